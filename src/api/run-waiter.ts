/**
 * Waiting for runs to end, for every `handle.result()` of one Baton instance at
 * once: a run that changes in this process (or is announced by NOTIFY) is
 * checked at once, and every run still awaited is checked in one batched query
 * per poll. A task awaiting 1,000 children thus costs one query per poll, not
 * 1,000.
 */

import { isTerminal } from '../engine/states.js';
import { InvalidStateError } from '../errors.js';
import type { RunRow } from '../store/types.js';
import type { BatonRuntime } from './runtime.js';

const POLL_MS = 200;
const BATCH = 500;

interface Waiter {
  resolve(run: RunRow): void;
  reject(error: unknown): void;
}

export class RunWaiter {
  readonly #runtime: BatonRuntime;
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #checkScheduled = false;
  #checking: Promise<void> | undefined = undefined;
  #isChecking = false;
  #unsubscribe: (() => void) | undefined;

  constructor(runtime: BatonRuntime) {
    this.#runtime = runtime;
  }

  /** Resolves with the run's row once it is in a terminal state. */
  async wait(runId: string, timeoutMs?: number): Promise<RunRow> {
    await this.#subscribe();
    return new Promise<RunRow>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        resolve: (run) => {
          clearTimeout(timer);
          resolve(run);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#remove(runId, waiter);
          reject(new InvalidStateError(`run ${runId} did not end within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      let set = this.#waiters.get(runId);
      if (!set) {
        set = new Set();
        this.#waiters.set(runId, set);
      }
      set.add(waiter);
      this.#markDirty(runId);
      this.#ensurePolling();
    });
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    const error = new Error('the Baton instance was closed while waiting for a run');
    for (const set of this.#waiters.values()) for (const waiter of set) waiter.reject(error);
    this.#waiters.clear();
  }

  async #subscribe(): Promise<void> {
    if (this.#unsubscribe) return;
    const notifier = await this.#runtime.notifier();
    this.#unsubscribe ??= notifier.onAnyRunChanged((runId) => {
      if (this.#waiters.has(runId)) this.#markDirty(runId);
    });
  }

  #remove(runId: string, waiter: Waiter): void {
    const set = this.#waiters.get(runId);
    set?.delete(waiter);
    if (set?.size === 0) this.#waiters.delete(runId);
    if (this.#waiters.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #ensurePolling(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      for (const runId of this.#waiters.keys()) this.#dirty.add(runId);
      this.#scheduleCheck();
    }, POLL_MS);
  }

  #markDirty(runId: string): void {
    this.#dirty.add(runId);
    this.#scheduleCheck();
  }

  #scheduleCheck(): void {
    if (this.#checkScheduled) return;
    this.#checkScheduled = true;
    setImmediate(() => {
      this.#checkScheduled = false;
      void this.#check();
    });
  }

  async #check(): Promise<void> {
    if (this.#isChecking) {
      await this.#checking;
      if (this.#dirty.size > 0) this.#scheduleCheck();
      return;
    }
    const ids = [...this.#dirty].filter((id) => this.#waiters.has(id));
    this.#dirty.clear();
    if (ids.length === 0) return;
    this.#isChecking = true;
    this.#checking = (async () => {
      try {
        const store = await this.#runtime.store();
        for (let i = 0; i < ids.length; i += BATCH) {
          const chunk = ids.slice(i, i + BATCH);
          const rows = await store.getRuns(this.#runtime.namespace, chunk);
          const found = new Set<string>();
          for (const row of rows) {
            found.add(row.id);
            if (!isTerminal(row.status)) continue;
            const set = this.#waiters.get(row.id);
            this.#waiters.delete(row.id);
            for (const waiter of set ?? []) waiter.resolve(row);
          }
          for (const id of chunk) {
            if (found.has(id)) continue;
            const set = this.#waiters.get(id);
            this.#waiters.delete(id);
            for (const waiter of set ?? []) waiter.reject(new InvalidStateError(`run ${id} does not exist (any more)`));
          }
        }
      } catch (error) {
        // A failed check is retried at the next poll; waiters stay.
        this.#runtime.logger.warn({ err: error }, 'checking awaited runs failed; retrying');
      } finally {
        this.#isChecking = false;
        this.#checking = undefined;
        if (this.#waiters.size === 0) {
          clearInterval(this.#timer);
          this.#timer = undefined;
        }
      }
    })();
    await this.#checking;
  }
}
