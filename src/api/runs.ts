/** `baton.runs`: look up any run by id and list runs with filters and cursor pagination. */

import { STATE_NAMES, STATE_TYPE, STATE_TYPES } from '../engine/states.js';
import type { StateName, StateType } from '../engine/types.js';
import { RunNotFoundError, ValidationError } from '../errors.js';
import { RunHandle } from './run-handle.js';
import { type RunSummary, toSummary } from './run-state.js';
import type { BatonRuntime } from './runtime.js';

export interface RunListFilter {
  /** A state name (`Failed`), a state type (`FAILED`), or a list of them. */
  status?: StateName | StateType | readonly (StateName | StateType)[];
  task?: string;
  /** Runs carrying all these tags. */
  tags?: Record<string, string>;
  /** Children of this run. */
  parentRunId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** 1..1000, default 50. */
  limit?: number;
  cursor?: string;
}

export interface RunList {
  items: RunSummary[];
  nextCursor: string | undefined;
}

export class Runs {
  readonly #runtime: BatonRuntime;

  constructor(runtime: BatonRuntime) {
    this.#runtime = runtime;
  }

  /** A handle on an existing run; throws RunNotFoundError when there is none in this namespace. */
  async get<Output = unknown>(id: string): Promise<RunHandle<Output>> {
    const store = await this.#runtime.store();
    const run = await store.getRun(this.#runtime.namespace, id);
    if (!run) throw new RunNotFoundError(id);
    return new RunHandle<Output>(this.#runtime, id, 'created');
  }

  /** Runs newest first, one page at a time. */
  async list(filter: RunListFilter = {}): Promise<RunList> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError(`limit must be an integer from 1 to 1000, got ${limit}`, [
        { path: 'limit', message: 'out of range' },
      ]);
    }
    const store = await this.#runtime.store();
    const page = await store.listRuns({
      namespace: this.#runtime.namespace,
      ...(filter.status === undefined ? {} : { statuses: toStateNames(filter.status) }),
      ...(filter.task === undefined ? {} : { taskName: filter.task }),
      ...(filter.tags === undefined ? {} : { tags: filter.tags }),
      ...(filter.parentRunId === undefined ? {} : { parentRunId: filter.parentRunId }),
      ...(filter.createdAfter === undefined ? {} : { createdAfter: filter.createdAfter.getTime() }),
      ...(filter.createdBefore === undefined ? {} : { createdBefore: filter.createdBefore.getTime() }),
      ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }),
      limit,
    });
    return { items: page.items.map(toSummary), nextCursor: page.nextCursor };
  }
}

function toStateNames(status: NonNullable<RunListFilter['status']>): StateName[] {
  const values: readonly string[] = typeof status === 'string' ? [status] : status;
  const names = new Set<StateName>();
  for (const value of values) {
    if ((STATE_NAMES as string[]).includes(value)) names.add(value as StateName);
    else if ((STATE_TYPES as string[]).includes(value)) {
      for (const name of STATE_NAMES) if (STATE_TYPE[name] === value) names.add(name);
    } else {
      throw new ValidationError(`status ${JSON.stringify(value)} is not a state name or type`, [
        { path: 'status', message: `known: ${STATE_NAMES.join(', ')}, ${STATE_TYPES.join(', ')}` },
      ]);
    }
  }
  return [...names];
}
