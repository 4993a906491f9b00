/**
 * Durable waits, decided purely: which of `ctx.waitFor`'s conditions is met
 * first, given when the wait started, the time now and the candidate events.
 * Conditions are alternatives; an array given as one condition is an all-of
 * group. A sleep is met at start + duration; an event at the time it was pushed;
 * a group when its last member is met. The earliest met condition wins (ties: the
 * lower index). Each event satisfies at most one member.
 */

export type WaitAtom = { sleep: number } | { event: string; filter?: Record<string, unknown> };
export type WaitGroup = readonly WaitAtom[];

export interface CandidateEvent {
  id: string;
  key: string;
  payload: unknown;
  time: number;
}

export interface WaitWinner {
  index: number;
  kind: 'sleep' | 'event';
  /** Events the winning condition consumes, in member order. */
  events: CandidateEvent[];
}

/** Whether `payload` holds `filter`: objects match recursively as subsets; arrays and scalars must be equal. */
export function matchesFilter(payload: unknown, filter: unknown): boolean {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) return deepEqual(payload, filter);
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return false;
  for (const [key, expected] of Object.entries(filter)) {
    if (!Object.hasOwn(payload, key)) return false;
    if (!matchesFilter((payload as Record<string, unknown>)[key], expected)) return false;
  }
  return true;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return false;
}

/** The winning condition, or undefined when none is met yet. `events` must be ordered by time, then id. */
export function chooseWinner(
  groups: readonly WaitGroup[],
  startedAt: number,
  now: number,
  events: readonly CandidateEvent[],
): WaitWinner | undefined {
  let best: (WaitWinner & { at: number }) | undefined;
  groups.forEach((group, index) => {
    const used = new Set<string>();
    const consumed: CandidateEvent[] = [];
    let at = Number.NEGATIVE_INFINITY;
    for (const atom of group) {
      if ('sleep' in atom) {
        const due = startedAt + atom.sleep;
        if (now < due) return;
        at = Math.max(at, due);
        continue;
      }
      const event = events.find(
        (e) => !used.has(e.id) && e.key === atom.event && (!atom.filter || matchesFilter(e.payload, atom.filter)),
      );
      if (!event) return;
      used.add(event.id);
      consumed.push(event);
      at = Math.max(at, event.time);
    }
    if (!best || at < best.at) best = { index, kind: consumed.length > 0 ? 'event' : 'sleep', events: consumed, at };
  });
  if (!best) return undefined;
  const { at: _at, ...winner } = best;
  return winner;
}

/** The earliest sleep deadline that has not passed yet (when to wake on our own), or null. */
export function nextSleepDeadline(groups: readonly WaitGroup[], startedAt: number, now: number): number | null {
  let next: number | null = null;
  for (const group of groups) {
    for (const atom of group) {
      if (!('sleep' in atom)) continue;
      const due = startedAt + atom.sleep;
      if (due > now && (next === null || due < next)) next = due;
    }
  }
  return next;
}
