// Optional workloads, not in the default run (select with --workloads / BENCH_WORKLOADS):
//   scale:  throughput with P worker PROCESSES (BENCH_SCALE_PROCS, default 4) on the same
//           database/Redis. Needs adapter.attachSpec() + attach(spec) (see adapters/baton.js);
//           a peer without them is reported as unsupported.
//   memory: worker process RSS while it works through a backlog of BENCH_MEM_N (100,000) runs.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { log, now, pool, sleep, TimeoutError, waitFor, withTimeout } from './util.js';

const mib = (b) => b / 2 ** 20;

async function enqueueBacklog(adapter, n, o) {
  const t = now();
  if (adapter.enqueueMany) {
    for (let s = 0; s < n; s += o.chunk) {
      const batch = [];
      for (let i = s; i < Math.min(n, s + o.chunk); i++) batch.push({ i });
      await adapter.enqueueMany(batch);
    }
  } else {
    await pool(n, o.par, (i) => adapter.enqueue({ i }));
  }
  return n / ((now() - t) / 1000);
}

/**
 * memory: enqueue N runs (bulk), then start ONE worker (concurrency C) in this process and sample
 * process RSS every 50 ms for BENCH_MEM_SECONDS (or until the backlog is drained). Reports the
 * RSS before the worker starts (after a GC when --expose-gc), the peak while working, and the
 * difference. The producer's own memory is in the baseline, so the delta is the worker's cost.
 */
export async function memory(adapter, o) {
  const N = o.n;
  const res = { n: N, concurrency: o.concurrency, sampleSeconds: o.sampleSeconds };
  res.enqueuePerSec = await enqueueBacklog(adapter, N, o);
  globalThis.gc?.();
  await sleep(500);
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline,
    done = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const t0 = now();
  await adapter.startWorker(
    async () => {
      done++;
    },
    { concurrency: o.concurrency },
  );
  try {
    await waitFor(() => done >= N || now() - t0 > o.sampleSeconds * 1000, o.sampleSeconds * 1000 + 30000, 'memory');
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
  }
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  Object.assign(res, {
    rssBaselineMiB: mib(baseline),
    rssPeakMiB: mib(peak),
    rssDeltaMiB: mib(peak - baseline),
    heapUsedMiB: mib(process.memoryUsage().heapUsed),
    doneInWindow: done,
    jobsPerSecInWindow: done / ((now() - t0) / 1000),
  });
  await adapter.stopWorker();
  return res;
}

/**
 * scale: enqueue N runs (bulk) from this process, start P worker processes (each one worker at
 * concurrency C, attached to the same state), release them together, and time the first handler
 * start in any process to the last completion in any process (wall clock shared by processes).
 */
export async function scale(adapter, o) {
  const N = o.n,
    P = o.procs;
  const res = { n: N, procs: P, concurrency: o.concurrency };
  if (typeof adapter.attachSpec !== 'function')
    return { ...res, unsupported: true, error: 'adapter has no attachSpec()/attach()' };
  res.enqueuePerSec = await enqueueBacklog(adapter, N, o);
  const spec = JSON.stringify(adapter.attachSpec());
  const script = fileURLToPath(new URL('./scale-worker.js', import.meta.url));
  const procs = [];
  const state = [];
  for (let k = 0; k < P; k++) {
    const child = fork(script, [o.peerSpec, String(o.concurrency), spec], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const st = { ready: false, done: 0, first: 0, last: 0, exited: false };
    child.on('message', (m) => {
      if (m.type === 'ready') st.ready = true;
      else if (m.type === 'progress') Object.assign(st, m);
      else if (m.type === 'error') log(`scale worker ${k}: ${m.message}`);
    });
    child.on('exit', () => {
      st.exited = true;
    });
    procs.push(child);
    state.push(st);
  }
  const total = () => state.reduce((a, s) => a + s.done, 0);
  try {
    await waitFor(() => state.every((s) => s.ready || s.exited), 60000, 'scale workers ready');
    for (const c of procs) c.send({ type: 'start' });
    await waitFor(() => total() >= N || state.every((s) => s.exited), o.timeoutMs, 'scale drain', 20);
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    res.timeout = true;
  } finally {
    for (const c of procs) if (!state[procs.indexOf(c)].exited) c.send({ type: 'stop' });
    await waitFor(() => state.every((s) => s.exited), 40000, 'scale workers exit').catch(() => {
      for (const c of procs) c.kill('SIGKILL');
    });
  }
  const firsts = state.map((s) => s.first).filter(Boolean);
  const first = Math.min(...firsts),
    last = Math.max(...state.map((s) => s.last));
  res.done = total();
  res.perProcess = state.map((s) => s.done);
  res.drainPerSec = res.done / ((last - first) / 1000);
  return res;
}

/**
 * fanoutJobs: the generic fan-out every queue can do. One parent job; its handler enqueues N child
 * jobs (adapter.enqueueMany in chunks when the peer has a bulk API, else `par` concurrent
 * in-handler enqueues), then waits, holding its slot, until an in-process counter has seen all N
 * children complete. Wall time = parent enqueue -> parent handler returns.
 */
export async function fanoutJobs(adapter, o) {
  const N = o.n;
  const res = { n: N, concurrency: o.concurrency, mode: 'parent job enqueues N + completion count' };
  let children = 0,
    parentDone = 0;
  await adapter.startWorker(
    async (p, api) => {
      if (p.fan) {
        if (adapter.enqueueMany) {
          for (let s = 0; s < N; s += o.chunk) {
            const b = [];
            for (let i = s; i < Math.min(N, s + o.chunk); i++) b.push({ c: i });
            await adapter.enqueueMany(b);
          }
        } else await pool(N, o.par, (i) => api.enqueue({ c: i }));
        await waitFor(() => children >= N, o.timeoutMs, 'fan-out children', 2);
        parentDone = now();
      } else children++;
    },
    { concurrency: o.concurrency },
  );
  await sleep(500); // worker settled
  const t0 = now();
  await adapter.enqueue({ fan: N });
  try {
    await waitFor(() => parentDone > 0, o.timeoutMs, 'fan-out');
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    res.timeout = true;
  }
  res.children = children;
  res.seconds = ((parentDone || now()) - t0) / 1000;
  await adapter.stopWorker();
  return res;
}

/**
 * fanout: the contender's native way when it has one (adapter.fanout: Baton = a durable task with
 * N x ctx.runChild()); otherwise the same as fanoutJobs.
 */
export async function fanout(adapter, o) {
  const f = adapter.fanout;
  if (!f) return fanoutJobs(adapter, o);
  const N = o.n;
  const res = { n: N, concurrency: o.concurrency, mode: f.mode };
  let children = 0;
  await f.startWorker(
    async () => {
      children++;
    },
    { concurrency: o.concurrency },
  );
  await sleep(500);
  const t0 = now();
  try {
    await withTimeout(f.run(N), o.timeoutMs, 'fan-out');
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    res.timeout = true;
  }
  res.seconds = (now() - t0) / 1000;
  res.children = children;
  await f.stopWorker();
  return res;
}

/**
 * sleepMemory: start one worker (idle), GC, RSS; enqueue N runs that park in a durable sleep
 * (adapter.durableSleep: Baton = durableTask with ctx.sleepFor('1h')); once all N are sleeping,
 * GC, RSS again. Peers without durable sleep are reported as unsupported.
 */
export async function sleepMemory(adapter, o) {
  const N = o.n;
  const res = { n: N, concurrency: o.concurrency };
  const d = adapter.durableSleep;
  if (!d) return { ...res, unsupported: true, error: 'adapter has no durableSleep' };
  await d.startWorker({ concurrency: o.concurrency });
  await sleep(1000);
  globalThis.gc?.();
  await sleep(300);
  globalThis.gc?.();
  const idle = process.memoryUsage().rss;
  const idleHeap = process.memoryUsage().heapUsed;
  const t0 = now();
  await d.enqueue(N);
  let sleeping = 0;
  const deadline = now() + o.timeoutMs;
  for (;;) {
    sleeping = await d.sleeping();
    if (sleeping >= N) break;
    if (now() > deadline) {
      res.timeout = true;
      break;
    }
    await sleep(100);
  }
  res.secondsToAllSleeping = (now() - t0) / 1000;
  await sleep(500);
  globalThis.gc?.();
  await sleep(300);
  globalThis.gc?.();
  const after = process.memoryUsage().rss;
  const afterHeap = process.memoryUsage().heapUsed;
  Object.assign(res, {
    sleeping,
    rssIdleMiB: mib(idle),
    rssSleepingMiB: mib(after),
    rssDeltaMiB: mib(after - idle),
    heapIdleMiB: mib(idleHeap),
    heapDeltaMiB: mib(afterHeap - idleHeap), // JS heap after GC: less noisy than RSS
  });
  await d.stopWorker();
  return res;
}

export const EXTRA_WORKLOADS = { scale, memory, fanout, fanoutJobs, sleepMemory };
