/**
 * The Baton side of `hydratedContext`: verifies that a serialized context's
 * attempt is still live and gives it operations bound to that attempt's lease
 * epoch, so a stale or foreign context can write nothing.
 */

import type { ContextHost, SerializedContextPayload } from '../context/serialized-context.js';
import type { AttemptControl } from '../context/task-context.js';
import { deserialize, serializeWithLimit } from '../engine/serializer.js';
import { LEASED_STATES } from '../engine/states.js';
import type { LogLevel } from '../engine/types.js';
import { InvalidStateError, LeaseLostError } from '../errors.js';
import type { LeaseRef } from '../store/types.js';
import type { BatonRuntime } from './runtime.js';

export function contextHostFor(runtime: BatonRuntime): ContextHost {
  let secret: Promise<Buffer> | undefined;
  return {
    namespace: runtime.namespace,
    secret() {
      secret ??= runtime.store().then(async (store) => Buffer.from(await store.secret(), 'base64url'));
      return secret;
    },
    async hydrate(payload) {
      const store = await runtime.store();
      const run = await store.getRun(payload.ns, payload.runId);
      if (!run || !LEASED_STATES.includes(run.status) || run.leaseEpoch !== payload.epoch) {
        throw new InvalidStateError(
          `serialized context of run ${payload.runId} is stale: the attempt that made it has ended (the run is ${run?.status ?? 'gone'})`,
        );
      }
      return remoteControl(runtime, payload);
    },
  };
}

function remoteControl(runtime: BatonRuntime, payload: SerializedContextPayload): AttemptControl {
  const lease: LeaseRef = { runId: payload.runId, epoch: payload.epoch };
  const onlyInWorker = (what: string) => () => {
    throw new InvalidStateError(`ctx.${what}() is only available in the worker running the attempt, not in a hydrated context`);
  };
  return {
    isClosed: false,
    signal: new AbortController().signal,
    deadline: undefined,
    cancellation: undefined,
    async log(level: LogLevel, message: string, fields: Record<string, unknown> | null) {
      const store = await runtime.store();
      await store.settle(
        [{ runId: lease.runId, epoch: lease.epoch, attempt: payload.attempt, time: runtime.clock.now(), level, message, fields }],
        [],
      );
    },
    async cancel(reason: string) {
      const store = await runtime.store();
      await store.requestCancel(payload.ns, lease.runId, reason);
      const notifier = await runtime.notifier();
      notifier.runChanged(lease.runId);
      notifier.cancelRequested(lease.runId);
    },
    refreshTimeout: onlyInWorker('refreshTimeout'),
    releaseSlot: onlyInWorker('releaseSlot'),
    async saveCheckpoint(data: unknown) {
      const store = await runtime.store();
      const text = serializeWithLimit(data, 'checkpoint', runtime.limits.output) ?? 'null';
      if (!(await store.saveCheckpoint(lease, text))) throw new LeaseLostError(lease.runId);
    },
    async loadCheckpoint() {
      const store = await runtime.store();
      return deserialize(await store.loadCheckpoint(lease.runId));
    },
    async progress(fraction: number, message: string | undefined) {
      const store = await runtime.store();
      if (!(await store.setProgress(lease, fraction, message ?? null))) throw new LeaseLostError(lease.runId);
    },
    async putStream(data: unknown) {
      const store = await runtime.store();
      const text = serializeWithLimit(data, 'stream chunk', runtime.limits.streamChunk) ?? 'null';
      if ((await store.appendStream(lease, text)) === null) throw new LeaseLostError(lease.runId);
      (await runtime.notifier()).runChanged(lease.runId);
    },
  };
}
