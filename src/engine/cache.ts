/**
 * Task caching (DESIGN.md §2.7, Prefect's cache keys): what a run does when it
 * finds a cache entry — reuse the output, wait for the run computing it, or
 * compute it itself. Pure; the store applies the verdict
 * in one transaction so concurrent identical runs compute once.
 */
import type { StateName } from './types.js';

export interface CacheEntry {
  state: 'computing' | 'done';
  runId: string;
  output: string | null;
  expiresAt: number | null;
  /** The status of the run that owns the entry (undefined when it no longer exists). */
  ownerStatus: StateName | undefined;
}

export type CacheVerdict =
  | { kind: 'hit'; output: string | null; runId: string }
  | { kind: 'wait'; runId: string }
  | { kind: 'compute' };

const ENDED_WITHOUT_OUTPUT: readonly StateName[] = ['Failed', 'TimedOut', 'Crashed', 'Cancelled', 'Skipped'];

/** What run `runId` does with the entry under its key (undefined: there is none). */
export function decideCache(entry: CacheEntry | undefined, runId: string, now: number, refresh: boolean): CacheVerdict {
  if (!entry) return { kind: 'compute' };
  if (entry.state === 'done') {
    const fresh = entry.expiresAt === null || entry.expiresAt > now;
    return fresh && !refresh ? { kind: 'hit', output: entry.output, runId: entry.runId } : { kind: 'compute' };
  }
  if (entry.runId === runId) return { kind: 'compute' };
  // Another run is computing it: wait for it, unless it is gone or ended without an output.
  const isOwnerAlive = entry.ownerStatus !== undefined && !ENDED_WITHOUT_OUTPUT.includes(entry.ownerStatus);
  return isOwnerAlive ? { kind: 'wait', runId: entry.runId } : { kind: 'compute' };
}

/** How long a run waiting for another's computation sleeps before it looks again. */
export const CACHE_WAIT_POLL_MS = 200;
