/**
 * DAG workflows, decided purely: checking a definition (no cycles, known
 * parents, unique names) and, after a task of a workflow run settles, what
 * happens next — which waiting tasks become runnable, which can no longer run,
 * and whether the workflow run (or its on-failure task) is done.
 */
import type { StateName } from './types.js';

export interface DagTaskSpec {
  name: string;
  parents: readonly string[];
  /** The on-failure task runs only after a task failed and everything else ended. */
  isOnFailure?: boolean;
}

/** The shape of a workflow stored with each of its runs. */
export interface DagSpec {
  tasks: readonly DagTaskSpec[];
}

export type DagProblem = string;

/** Problems with a workflow definition, as messages (empty when it is fine). */
export function checkDag(workflow: string, tasks: readonly DagTaskSpec[]): DagProblem[] {
  const problems: DagProblem[] = [];
  const names = new Set<string>();
  for (const task of tasks) {
    if (names.has(task.name)) problems.push(`workflow "${workflow}" has two tasks named "${task.name}"`);
    names.add(task.name);
  }
  for (const task of tasks) {
    for (const parent of task.parents) {
      if (!names.has(parent)) problems.push(`task "${task.name}" of workflow "${workflow}" has an unknown parent "${parent}"`);
      if (parent === task.name) problems.push(`task "${task.name}" of workflow "${workflow}" is its own parent`);
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) problems.push(`workflow "${workflow}" has a cycle: ${cycle.join(' → ')}`);
  return problems;
}

function findCycle(tasks: readonly DagTaskSpec[]): string[] | undefined {
  const parents = new Map(tasks.map((t) => [t.name, t.parents]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const parent of parents.get(name) ?? []) {
      const cycle = visit(parent);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const task of tasks) {
    const cycle = visit(task.name);
    if (cycle) return cycle;
  }
  return undefined;
}

export type TaskOutcome = 'waiting' | 'active' | 'succeeded' | 'skipped' | 'failed';

export function outcomeOf(status: StateName): TaskOutcome {
  switch (status) {
    case 'Waiting':
      return 'waiting';
    case 'Completed':
    case 'Cached':
      return 'succeeded';
    case 'Skipped':
      return 'skipped';
    case 'Failed':
    case 'TimedOut':
    case 'Crashed':
    case 'Cancelled':
      return 'failed';
    default:
      return 'active';
  }
}

export interface DagProgress {
  /** Waiting tasks whose parents all succeeded or were skipped: make them runnable. */
  ready: string[];
  /** Waiting tasks downstream of a failure: they can no longer run. */
  unreachable: { name: string; failedParent: string }[];
  /** Start the on-failure task now. */
  startOnFailure: string | undefined;
  /** The workflow run is over (every task ended). */
  finished: { status: 'Completed' | 'Failed' } | undefined;
}

/** What follows from the current statuses of a workflow run's tasks. */
export function dagProgress(spec: DagSpec, statuses: ReadonlyMap<string, StateName>): DagProgress {
  const outcome = (name: string): TaskOutcome => outcomeOf(statuses.get(name) ?? 'Waiting');
  const main = spec.tasks.filter((t) => !t.isOnFailure);
  const onFailure = spec.tasks.find((t) => t.isOnFailure);
  const ready: string[] = [];
  const unreachable: DagProgress['unreachable'] = [];
  // Walk in dependency order so a failure reaches grandchildren in one pass.
  const failedOrUnreachable = new Map<string, string>();
  for (const task of topologicalOrder(main)) {
    const own = outcome(task.name);
    if (own === 'failed') failedOrUnreachable.set(task.name, task.name);
    if (own !== 'waiting') continue;
    const failedParent = task.parents.find((p) => failedOrUnreachable.has(p));
    if (failedParent !== undefined) {
      const root = failedOrUnreachable.get(failedParent) as string;
      unreachable.push({ name: task.name, failedParent: root });
      failedOrUnreachable.set(task.name, root);
      continue;
    }
    if (task.parents.every((p) => ['succeeded', 'skipped'].includes(outcome(p)))) ready.push(task.name);
  }
  const unreachableNames = new Set(unreachable.map((u) => u.name));
  const mainOver = main.every((t) => {
    const o = outcome(t.name);
    return o === 'succeeded' || o === 'skipped' || o === 'failed' || unreachableNames.has(t.name);
  });
  const anyFailed = main.some((t) => outcome(t.name) === 'failed');
  let startOnFailure: string | undefined;
  let finished: DagProgress['finished'];
  if (mainOver && ready.length === 0) {
    if (!anyFailed) finished = { status: 'Completed' };
    else if (onFailure && outcome(onFailure.name) === 'waiting') startOnFailure = onFailure.name;
    else if (!onFailure || ['succeeded', 'skipped', 'failed'].includes(outcome(onFailure.name))) finished = { status: 'Failed' };
  }
  return { ready, unreachable, startOnFailure, finished };
}

/** Tasks ordered so every parent comes before its children (input must be acyclic). */
export function topologicalOrder<T extends DagTaskSpec>(tasks: readonly T[]): T[] {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (task: T) => {
    if (done.has(task.name)) return;
    done.add(task.name);
    for (const parent of task.parents) {
      const p = byName.get(parent);
      if (p) visit(p);
    }
    out.push(task);
  };
  for (const task of tasks) visit(task);
  return out;
}

/** A workflow run's output: the map of task name → output, composed from stored outputs (no re-encoding). */
export function composeOutputs(entries: readonly (readonly [string, string | null])[]): string {
  const parts = entries.map(([name, text]) => `${JSON.stringify(name)}:${text ?? '{"$baton":"undefined"}'}`);
  return `{${parts.join(',')}}`;
}

export const FAILED_TASK_STATES: readonly StateName[] = ['Failed', 'TimedOut', 'Crashed'];

/** The failure of a workflow run: which tasks failed and why. */
export function workflowFailure(workflow: string, errors: Readonly<Record<string, string>>) {
  const list = Object.entries(errors).map(([task, message]) => `task "${task}" failed: ${message}`);
  return {
    name: 'WorkflowFailedError',
    code: 'BATON_WORKFLOW_FAILED',
    message: list.length > 0 ? `workflow "${workflow}": ${list.join('; ')}` : `workflow "${workflow}" failed`,
    data: { taskRunErrors: errors },
  };
}
