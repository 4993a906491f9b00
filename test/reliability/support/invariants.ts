/**
 * RELIABILITY.md's global invariants, checked after every scenario:
 * I1 no leased run whose lease expired more than L+S+2s ago; I2 every ended run has exactly one
 * terminal transition; I3 no recorded step overwritten; I4 at most one `effects` row per
 * (run, step); I5 no attempt settled after a newer attempt of its run started; I6 SQLite
 * integrity_check = ok; I7 no worker process crashed (exited non-zero without being killed).
 */
import type { BackendName } from '../../support/stores.js';

const TERMINAL = ['Completed', 'Cached', 'Skipped', 'Failed', 'TimedOut', 'Crashed', 'Cancelled'];
const SETTLED_OUTCOMES = ['completed', 'failed', 'timed_out', 'cancelled'];

export interface InvariantOptions {
  leaseMs?: number;
  sweepMs?: number;
  /** Runs that were retried or resumed by hand end more than once (I2 counts since the last hand retry). */
  retriedByHand?: readonly string[];
  /** Skip I1 (a scenario that stops every worker leaves leases to expire on purpose). */
  skipLeaseCheck?: boolean;
}

export interface InvariantSubject {
  backend: BackendName;
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  effectsTable: string;
  stepSnapshots: readonly Map<string, string>[];
  processFailures: readonly string[];
}

export async function checkInvariants(subject: InvariantSubject, options: InvariantOptions = {}): Promise<void> {
  const { query } = subject;
  const leaseMs = options.leaseMs ?? 3_000;
  const sweepMs = options.sweepMs ?? 1_000;
  const violations: string[] = [];
  const terminalList = TERMINAL.map((s) => `'${s}'`).join(', ');

  if (!options.skipLeaseCheck) {
    const limit = Date.now() - (leaseMs + sweepMs + 2_000);
    const stale = await query<{ id: string; status: string }>(
      `SELECT id, status FROM runs WHERE status IN ('Running', 'Retrying', 'Cancelling') AND lease_expires_at < $1`,
      [limit],
    );
    for (const run of stale) violations.push(`I1 run ${run.id} is ${run.status} with a lease that expired over L+S+2s ago`);
  }

  // I2, in three flat scans joined here: a correlated subquery per run would compare columns of
  // different collations on PostgreSQL and miss the index.
  const byHand = new Set(options.retriedByHand ?? []);
  const ended = await query<{ id: string; status: string }>(`SELECT id, status FROM runs WHERE status IN (${terminalList})`);
  const endingCounts = new Map(
    (
      await query<{ run_id: string; n: number }>(
        `SELECT run_id, count(*) AS n FROM run_states WHERE name IN (${terminalList}) GROUP BY run_id`,
      )
    ).map((r) => [r.run_id, Number(r.n)]),
  );
  const lastNames = new Map(
    (
      await query<{ run_id: string; name: string }>(
        'SELECT run_id, name FROM run_states WHERE id IN (SELECT max(id) FROM run_states GROUP BY run_id)',
      )
    ).map((r) => [r.run_id, r.name]),
  );
  for (const run of ended) {
    const count = endingCounts.get(run.id) ?? 0;
    if (count !== 1 && !(byHand.has(run.id) && count >= 1)) {
      violations.push(`I2 run ${run.id} (${run.status}) has ${count} terminal transitions`);
    }
    const last = lastNames.get(run.id);
    if (last !== run.status) violations.push(`I2 run ${run.id} is ${run.status} but its last transition is ${last}`);
  }

  if (subject.stepSnapshots.length > 0) {
    const rows = await query<{ run_id: string; step_key: string; output: string | null; epoch: number; created_at: number }>(
      'SELECT run_id, step_key, output, epoch, created_at FROM steps',
    );
    const now = new Map(rows.map((r) => [`${r.run_id} ${r.step_key}`, `${r.output}|${r.epoch}|${r.created_at}`]));
    for (const snapshot of subject.stepSnapshots) {
      for (const [key, value] of snapshot) {
        const current = now.get(key);
        // A run deleted by retention or a hand retry from a step is not an overwrite.
        if (current !== undefined && current !== value) violations.push(`I3 step ${key} was overwritten: ${value} → ${current}`);
      }
    }
  }

  const effects = await query<{ run_id: string; step_key: string; n: number }>(
    `SELECT run_id, step_key, count(*) AS n FROM ${subject.effectsTable} GROUP BY run_id, step_key HAVING count(*) > 1`,
  );
  for (const e of effects) violations.push(`I4 effects has ${e.n} rows for ${e.run_id} ${e.step_key}`);

  const outcomes = SETTLED_OUTCOMES.map((s) => `'${s}'`).join(', ');
  const lateSettles = await query<{ run_id: string; epoch: number; later: number }>(
    `SELECT a.run_id, a.epoch, b.epoch AS later FROM attempts a JOIN attempts b ON b.run_id = a.run_id AND b.epoch > a.epoch
      WHERE a.outcome IN (${outcomes}) AND a.ended_at > b.started_at`,
  );
  for (const s of lateSettles) {
    violations.push(`I5 run ${s.run_id}: epoch ${s.epoch} settled after epoch ${s.later} started`);
  }

  if (subject.backend === 'sqlite') {
    const [check] = await query<{ integrity_check: string }>('PRAGMA integrity_check');
    if (check?.integrity_check !== 'ok') violations.push(`I6 integrity_check: ${check?.integrity_check}`);
  }

  for (const failure of subject.processFailures) violations.push(`I7 ${failure}`);

  if (violations.length > 0) {
    throw new Error(
      `invariants violated:\n${violations.slice(0, 30).join('\n')}${violations.length > 30 ? `\n… ${violations.length - 30} more` : ''}`,
    );
  }
}
