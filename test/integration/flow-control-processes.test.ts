/**
 * Flow control across worker processes (test/fixtures/flow-process.ts) on one
 * database: a concurrency key is never exceeded however many processes claim
 * (checked from the task bodies' own start/end records and from samples of
 * the database taken while runs are in flight), and a sliding-window rate
 * limit holds across processes without over-throttling. Every wait is a poll
 * with a deadline.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Baton } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { killWorkerProcesses, startWorkerProcess } from '../support/processes.js';
import { createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

const WORKER_SCRIPT = fileURLToPath(new URL('../fixtures/flow-process.ts', import.meta.url));
const MAX_PER_GROUP = 2;
const RATE_LIMIT = 3;
const RATE_WINDOW_MS = 1_000;

function readLines(file: string): string[][] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split(' '));
}

interface Interval {
  runId: string;
  group: string;
  start: number;
  end: number;
  worker: string;
}

/** The `limited` executions: one [start, end] interval per start record (end NaN if it never ended). */
function intervals(file: string): Interval[] {
  const byRun = new Map<string, Interval>();
  const all: Interval[] = [];
  for (const [kind, runId, group, at, worker] of readLines(file) as [string, string, string, string, string][]) {
    if (kind === 'start') {
      const interval = { runId, group, start: Number(at), end: Number.NaN, worker };
      byRun.set(runId, interval);
      all.push(interval);
    } else if (kind === 'end') {
      const interval = byRun.get(runId);
      if (interval) interval.end = Number(at);
    }
  }
  return all;
}

/**
 * The most intervals open at once (sweep line; at equal times an end is processed before a start),
 * and how many starts found another process's run of the list already open.
 */
function overlapOf(list: readonly Interval[]): { max: number; crossProcess: number } {
  const events = list.flatMap((i) => [
    { at: i.start, delta: 1, interval: i },
    { at: i.end, delta: -1, interval: i },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const open = new Set<Interval>();
  let max = 0;
  let crossProcess = 0;
  for (const e of events) {
    if (e.delta < 0) {
      open.delete(e.interval);
      continue;
    }
    if ([...open].some((i) => i.worker !== e.interval.worker)) crossProcess++;
    open.add(e.interval);
    max = Math.max(max, open.size);
  }
  return { max, crossProcess };
}

describeEachStore('flow control across worker processes', (backend) => {
  let fixture: StoreFixture;
  let dir: string;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    dir = mkdtempSync(join(tmpdir(), 'baton-flow-'));
    baton = fixture.baton();
  });

  afterEach(async () => {
    await killWorkerProcesses();
    await fixture.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function workerEnv(name: string, slots = 8): Record<string, string> {
    return {
      ...fixture.env,
      WORKER_NAME: name,
      WORKER_SLOTS: String(slots),
      WORKER_LEASE: '2s',
      FIXTURE_EXEC_FILE: join(dir, 'exec.log'),
    };
  }

  // The same names and options as the fixture's tasks; the bodies never run in this process.
  function defineTasks() {
    const limited = baton.task(
      { name: 'limited', retries: 0, concurrency: { key: (input: { group: string }) => input.group, max: 2, strategy: 'queue' } },
      async (_input: { group: string; ms: number }) => null,
    );
    const rated = baton.task(
      { name: 'rated', retries: 0, rateLimits: [{ key: 'api', limit: 3, per: '1s' }] },
      async (_input: unknown) => null,
    );
    return { limited, rated };
  }

  async function countStatus(task: string, status: 'Completed' | 'Running'): Promise<number> {
    return (await baton.runs.list({ status, task, limit: 1000 })).items.length;
  }

  it('a concurrency key (max 2) holds across 3 worker processes, and its limit is used', async () => {
    const { limited } = defineTasks();
    await baton.store();
    // 2 slots each: together the processes could run 6 at once, more than the 4 the keys allow, and no
    // one process can hold both groups' places (a worker that just finished a run claims again at once,
    // so with more slots one process tends to win every claim).
    const workers = await Promise.all([1, 2, 3].map((i) => startWorkerProcess(WORKER_SCRIPT, workerEnv(`w${i}`, 2))));

    const total = 40;
    const inputs = Array.from({ length: total }, (_, i) => ({ group: i % 2 === 0 ? 'a' : 'b', ms: 30 + ((i * 7) % 31) }));
    const groupOf = new Map<string, string>();

    // Sample the database continuously while the runs are in flight.
    let sampling = true;
    let samples = 0;
    let maxSampled = 0;
    const sampledOver: { sample: number; running: Record<string, number> }[] = [];
    const sampler = (async () => {
      while (sampling) {
        const running = (await baton.runs.list({ status: 'Running', task: 'limited', limit: 100 })).items;
        const perGroup: Record<string, number> = {};
        for (const run of running) {
          const group = groupOf.get(run.id) ?? '?';
          perGroup[group] = (perGroup[group] ?? 0) + 1;
        }
        samples++;
        const most = Math.max(0, ...Object.values(perGroup));
        maxSampled = Math.max(maxSampled, most);
        if (most > MAX_PER_GROUP) sampledOver.push({ sample: samples, running: perGroup });
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const begin = performance.now();
    try {
      const handles = await limited.enqueueMany(inputs.map((input) => ({ input })));
      for (const [i, h] of handles.entries()) groupOf.set(h.id, inputs[i]?.group as string);
      await waitFor(async () => (await countStatus('limited', 'Completed')) === total, {
        timeout: 30_000,
        interval: 20,
        message: `all ${total} limited runs to complete`,
      });
    } finally {
      sampling = false;
      await sampler;
    }
    const seconds = (performance.now() - begin) / 1000;

    const executed = intervals(join(dir, 'exec.log'));
    expect(executed).toHaveLength(total);
    expect(new Set(executed.map((i) => i.runId)).size).toBe(total);
    expect(executed.every((i) => Number.isFinite(i.end) && i.end >= i.start)).toBe(true);
    expect(executed.every((i) => groupOf.get(i.runId) === i.group)).toBe(true);

    const overlap: Record<string, number> = {};
    let crossProcess = 0;
    for (const group of ['a', 'b']) {
      const measured = overlapOf(executed.filter((i) => i.group === group));
      overlap[group] = measured.max;
      crossProcess += measured.crossProcess;
    }
    const share: Record<string, number> = {};
    for (const i of executed) share[i.worker] = (share[i.worker] ?? 0) + 1;
    console.log(
      `[${backend}] limited: ${total} runs in ${seconds.toFixed(2)} s; max overlap per group (exec records) ${JSON.stringify(overlap)}, ` +
        `${crossProcess} starts beside another process's run of the group; ` +
        `${samples} database samples, max Running per group ${maxSampled}; runs per worker ${JSON.stringify(share)}`,
    );

    expect(sampledOver).toEqual([]);
    expect(maxSampled).toBeLessThanOrEqual(MAX_PER_GROUP);
    expect(samples).toBeGreaterThan(0);
    for (const group of ['a', 'b']) expect(overlap[group]).toBeLessThanOrEqual(MAX_PER_GROUP);
    expect(Math.max(...Object.values(overlap))).toBe(MAX_PER_GROUP);
    // More than one process took part (the limit is enforced across processes, not inside one).
    expect(Object.keys(share).length).toBeGreaterThanOrEqual(2);

    expect(await Promise.all(workers.map((w) => w.stop()))).toEqual([0, 0, 0]);
  }, 60_000);

  it('a rate limit (3 per 1s) holds across 2 worker processes without over-throttling', async () => {
    const { rated } = defineTasks();
    await baton.store();
    const workers = await Promise.all([1, 2].map((i) => startWorkerProcess(WORKER_SCRIPT, workerEnv(`r${i}`))));

    const total = 12;
    const handles = await rated.enqueueMany(Array.from({ length: total }, (_, i) => ({ input: { n: i } })));
    await waitFor(async () => (await countStatus('rated', 'Completed')) === total, {
      timeout: 30_000,
      interval: 20,
      message: `all ${total} rated runs to complete`,
    });

    // When the store admitted each run: the timestamp of its Running state.
    const starts: number[] = [];
    for (const handle of handles) {
      const states = await handle.states();
      expect(states.map((s) => s.name)).toEqual(['Pending', 'Running', 'Completed']);
      const running = states.find((s) => s.name === 'Running');
      if (!running) throw new Error(`run ${handle.id} has no Running state`);
      starts.push(running.timestamp.getTime());
    }
    starts.sort((a, b) => a - b);
    const first = starts[0] as number;
    const span = (starts[total - 1] as number) - first;
    // Starts in each window [t, t + 1s) beginning at a start.
    const perWindow = starts.map((t) => starts.filter((u) => u >= t && u < t + RATE_WINDOW_MS).length);
    const gaps = starts.slice(RATE_LIMIT).map((t, i) => t - (starts[i] as number));

    const executedLines = readLines(join(dir, 'exec.log'));
    const share: Record<string, number> = {};
    for (const line of executedLines) share[line[3] as string] = (share[line[3] as string] ?? 0) + 1;
    console.log(
      `[${backend}] rated: starts at +ms ${JSON.stringify(starts.map((t) => t - first))}; starts per 1 s window ${JSON.stringify(perWindow)}; ` +
        `min t[i+3]-t[i] ${Math.min(...gaps)} ms; span ${span} ms; runs per worker ${JSON.stringify(share)}`,
    );

    expect(executedLines).toHaveLength(total);
    expect(new Set(executedLines.map((l) => l[1])).size).toBe(total);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(RATE_WINDOW_MS);
    expect(Math.max(...perWindow)).toBeLessThanOrEqual(RATE_LIMIT);
    // Not over-throttled: 12 starts at 3 per second need a bit over 3 s from the first start.
    expect(span).toBeLessThan(4_500);

    expect(await Promise.all(workers.map((w) => w.stop()))).toEqual([0, 0]);
  }, 60_000);
});
