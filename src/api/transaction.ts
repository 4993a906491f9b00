/**
 * `baton.transaction(fn)` (DESIGN.md §2.7, §2.12 "Transactions"; Prefect's
 * transactions): task runs enqueued inside `fn` join the transaction. When
 * `fn` throws or a member does not complete, the completed members'
 * `onRollback` hooks run newest completion first; when all succeed, their
 * `onCommit` hooks run. Hooks run as a stored workflow run (a chain for
 * rollback), executed by any worker serving the task, so a crash mid-rollback
 * resumes the rollback. A nested transaction's members join the outer one when
 * it commits, and its commit hooks wait for the outermost commit.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { deserialize } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import type { TriggerOrigin } from '../engine/types.js';
import { serializeError, ValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { NewRun, RunRow, StoredDag } from '../store/types.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import { buildWorkflowRows, insertWorkflowRuns } from './enqueue-workflow.js';
import { RunHandle } from './run-handle.js';
import type { BatonRuntime } from './runtime.js';

const scope = new AsyncLocalStorage<{ id: string }>();

/** The transaction a run enqueued here joins, if any. */
export function currentTransactionId(): string | undefined {
  return scope.getStore()?.id;
}

export interface Transaction {
  readonly id: string;
  /** The runs that joined so far (ids), in enqueue order. */
  members(): Promise<string[]>;
}

/** Raised when a transaction rolled back because a member did not complete (and `fn` itself did not throw). */
export class TransactionRolledBackError extends ValidationError {}

const COMPLETED = ['Completed', 'Cached', 'Skipped'];
const HOOKS_PREFIX = '~hooks>';

/** The queue key under which workers serve a task's transaction hooks. */
export function hooksQueueKey(taskName: string): string {
  return `${HOOKS_PREFIX}${taskName}`;
}

/**
 * The definition a worker serves under `hooksQueueKey(name)`: it runs the member's
 * onRollback/onCommit hook. A hook that still throws on its last attempt is recorded
 * in the output instead of failing, so the rest of the rollback goes on.
 */
export function hookDefinitionOf(def: TaskDefinition): TaskDefinition | undefined {
  if (def.workflow || (!def.hooks.onRollback && !def.hooks.onCommit)) return undefined;
  return {
    ...def,
    queueKey: hooksQueueKey(def.name),
    isDurable: false,
    inputSchema: undefined,
    outputSchema: undefined,
    cache: undefined,
    flow: undefined,
    hooks: {},
    fn: (async (_input: unknown, ctx: Parameters<TaskDefinition['fn']>[1]) => {
      const origin = ctx.trigger.kind === 'retry' ? ctx.trigger.origin : ctx.trigger;
      if (origin.kind !== 'transaction') throw new Error(`run ${ctx.taskRunId} is not a transaction hook`);
      const hook = origin.hook === 'rollback' ? def.hooks.onRollback : def.hooks.onCommit;
      try {
        await hook?.(ctx, { runId: origin.sourceRunId, output: deserialize(origin.sourceOutput) as never });
        return { hook: origin.hook, runId: origin.sourceRunId };
      } catch (error) {
        if (ctx.attempt < def.retryPolicy.retries) throw error;
        return { hook: origin.hook, runId: origin.sourceRunId, failed: serializeError(error) };
      }
    }) as TaskDefinition['fn'],
  };
}

export class TransactionRunner {
  readonly #runtime: BatonRuntime;
  readonly #definitionOf: (taskName: string) => TaskDefinition | undefined;
  readonly #serveHooks: (defs: TaskDefinition[]) => Promise<void>;

  constructor(
    runtime: BatonRuntime,
    definitionOf: (taskName: string) => TaskDefinition | undefined,
    serveHooks: (defs: TaskDefinition[]) => Promise<void>,
  ) {
    this.#runtime = runtime;
    this.#definitionOf = definitionOf;
    this.#serveHooks = serveHooks;
  }

  async run<T>(fn: (txn: Transaction) => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') throw new ValidationError('baton.transaction(fn): fn must be a function');
    const store = await this.#runtime.store();
    const namespace = this.#runtime.namespace;
    const parentId = currentTransactionId() ?? null;
    const id = newId(this.#runtime.clock.now());
    await store.createTransaction(namespace, id, parentId);
    const txn: Transaction = {
      id,
      members: async () => (await store.transactionMembers(namespace, id)).map((r) => r.id),
    };
    let value: T;
    try {
      value = await scope.run({ id }, () => fn(txn));
    } catch (error) {
      await this.#rollBack(id, error);
      throw error;
    }
    const members = await this.#settledMembers(id, false);
    const failed = members.find((m) => !COMPLETED.includes(m.status));
    if (failed) {
      const error = new TransactionRolledBackError(
        `transaction ${id} rolled back: member run ${failed.id} (${failed.taskName}) ended ${failed.status}`,
      );
      await this.#rollBack(id, error);
      throw error;
    }
    if (parentId) {
      // Commit hooks wait for the outermost commit; a later failure there rolls these members back too.
      await store.moveTransactionMembers(namespace, id, parentId);
      await store.updateTransaction(namespace, id, { status: 'committed' });
      return value;
    }
    await store.updateTransaction(namespace, id, { status: 'committing' });
    const hooksRunId = await this.#runHooks(id, 'commit', members);
    await store.updateTransaction(namespace, id, { status: 'committed', ...(hooksRunId ? { hooksRunId } : {}) });
    return value;
  }

  async #rollBack(id: string, error: unknown): Promise<void> {
    const store = await this.#runtime.store();
    const namespace = this.#runtime.namespace;
    await store.updateTransaction(namespace, id, { status: 'rolling-back', error: serializeError(error) });
    const members = await this.#settledMembers(id, true);
    const completed = members
      .filter((m) => m.status === 'Completed')
      .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0) || (a.id < b.id ? 1 : -1));
    const hooksRunId = await this.#runHooks(id, 'rollback', completed);
    await store.updateTransaction(namespace, id, { status: 'rolled-back', ...(hooksRunId ? { hooksRunId } : {}) });
  }

  /** Waits until every member has ended; on rollback, members still running are cancelled first. */
  async #settledMembers(id: string, cancelRunning: boolean): Promise<RunRow[]> {
    const store = await this.#runtime.store();
    const members = await store.transactionMembers(this.#runtime.namespace, id);
    const open = members.filter((m) => !isTerminal(m.status));
    if (open.length === 0) return members;
    await Promise.all(
      open.map(async (m) => {
        const handle = new RunHandle(this.#runtime, m.id);
        if (cancelRunning) await handle.cancel(`transaction ${id} is rolling back`).catch(() => undefined);
        await handle.result().catch(() => undefined);
      }),
    );
    return store.transactionMembers(this.#runtime.namespace, id);
  }

  /** Runs the members' hooks as one workflow run (a chain for rollback, all at once for commit) and waits for it. */
  async #runHooks(id: string, hook: 'rollback' | 'commit', members: readonly RunRow[]): Promise<string | undefined> {
    const withHook = members.filter((m) => {
      const def = this.#definitionOf(m.taskName);
      return def ? Boolean(hook === 'rollback' ? def.hooks.onRollback : def.hooks.onCommit) : true;
    });
    if (withHook.length === 0) return undefined;
    const defs = withHook.map((m) => this.#definitionOf(m.taskName)).filter((d): d is TaskDefinition => d !== undefined);
    await this.#serveHooks(defs);
    const names = withHook.map((m, i) => `${hook}-${i + 1}-${m.taskName}`);
    const dag: StoredDag = {
      version: `transaction-${hook}`,
      tasks: withHook.map((m, i) => ({
        name: names[i] as string,
        parents: hook === 'rollback' && i > 0 ? [names[i - 1] as string] : [],
        queueKey: hooksQueueKey(m.taskName),
        priority: m.priority,
        maxCrashes: m.maxCrashes,
        cancelGraceMs: m.cancelGraceMs,
      })),
    };
    const trigger: TriggerOrigin = { kind: 'manual' };
    const rows = buildWorkflowRows(this.#runtime, {
      workflowName: `transaction-${hook}`,
      dag,
      input: null,
      tags: { 'baton.transaction': id },
      metadata: {},
      customContext: {},
      trigger,
      parentRunId: null,
      parentWorkflowRunId: null,
      priority: undefined,
      timing: {},
    });
    for (const [i, row] of rows.slice(1).entries()) {
      const member = withHook[i] as RunRow;
      (row as NewRun).input = member.input;
      (row as NewRun).trigger = {
        kind: 'transaction',
        hook,
        transactionId: id,
        sourceRunId: member.id,
        sourceOutput: member.output,
      };
    }
    const [created] = await insertWorkflowRuns(this.#runtime, [rows]);
    const hooksRunId = created?.id ?? rows[0].id;
    await new RunHandle(this.#runtime, hooksRunId).result();
    return hooksRunId;
  }
}
