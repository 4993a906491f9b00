/**
 * Secrets in stored failures (DESIGN.md §2.2 typed context keys, RELIABILITY.md #36): a task or
 * step that throws an error whose message, stack or cause holds the value of a context key
 * defined with `redact: true` is stored — and so shown by the API and dashboard — with
 * "[redacted]" in its place, on both stores; values of other keys are left as they are. An
 * unreachable PostgreSQL URL with a password gives a StorageError without the password.
 */
import { inspect } from 'node:util';
import { Baton, type Baton as BatonType, type DurableContext, defineContextKey } from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitForState } from '../support/wait.js';

const apiKey = defineContextKey<string>('secrets-test.api-key', { redact: true });
const tenant = defineContextKey<string>('secrets-test.tenant');

describeEachStore('secrets in stored failures', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: BatonType;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  it('a redacted context value in a thrown error is stored as [redacted] (message, stack, cause), in the run and in the step', async () => {
    const plain = baton.task({ name: 'throws-secret' }, async () => {
      throw new Error(`refused ${apiKey.get()} for ${tenant.get()}`, { cause: new Error(`inner ${apiKey.get()}`) });
    });
    const durable = baton.durableTask({ name: 'step-throws-secret' }, async (_: null, ctx: DurableContext) => {
      await ctx.step('call', async () => {
        throw new Error(`step refused ${apiKey.get()}`);
      });
    });
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', shutdownTimeout: '1s', tasks: [plain, durable] });
    await worker.start();
    try {
      const [a, b] = await apiKey.with('sk-live-0042', () =>
        tenant.with('acme', async () => [await plain.enqueue(undefined), await durable.enqueue(null)]),
      );
      const stateA = await waitForState(a as NonNullable<typeof a>, ['Failed', 'Completed']);
      expect(stateA.error?.message).toBe('refused [redacted] for acme');
      expect(stateA.error?.cause?.message).toBe('inner [redacted]');
      expect(stateA.error?.stack).not.toContain('sk-live-0042');
      const stateB = await waitForState(b as NonNullable<typeof b>, ['Failed', 'Completed']);
      expect(stateB.error?.message).toBe('step refused [redacted]');
      const steps = await (await baton.store()).loadSteps((b as NonNullable<typeof b>).id);
      expect(steps.find((s) => s.key === 'call#1')?.error?.message).toBe('step refused [redacted]');
      const stored = JSON.stringify([
        await (await baton.store()).getRun(baton.namespace, (a as NonNullable<typeof a>).id),
        steps,
      ]);
      expect(stored).not.toContain('sk-live-0042');
    } finally {
      await worker.stop();
    }
  });
});

describe('an unreachable PostgreSQL database', () => {
  it('gives a StorageError that names the host but never the password', async () => {
    const baton = new Baton({ database: 'postgres://root:pw-9d2c@127.0.0.1:1/test', logLevel: 'silent' });
    try {
      const error = await baton.runs.list().catch((e: unknown) => e);
      expect((error as Error).name).toBe('StorageError');
      expect(String(error)).toContain('127.0.0.1:1');
      expect(`${String(error)} ${(error as Error).stack} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`).not.toContain(
        'pw-9d2c',
      );
    } finally {
      await baton.close();
    }
  });
});
