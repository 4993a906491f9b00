// The three peer workloads. Each function takes a *fresh* (already set up) adapter and
// returns a plain result object. Every wait is bounded; a timeout becomes part of the result.
import { log, now, percentile, pool, sleep, TimeoutError, waitFor } from './util.js';

const _noop = async () => {};

/**
 * throughput: enqueue N jobs (first `serialN` one at a time with await, the rest through the
 * peer's bulk API, or with `par` concurrent single enqueues when it has none), then start one
 * worker at concurrency C and time first start -> last completion.
 */
export async function throughput(adapter, o) {
  const N = o.n,
    C = o.concurrency;
  const serialN = Math.min(o.serialN, N);
  const res = { n: N, concurrency: C };
  // 1a) one at a time
  let t = now();
  for (let i = 0; i < serialN; i++) await adapter.enqueue({ i });
  res.enqueueSerialPerSec = serialN / ((now() - t) / 1000);
  // 1b) the rest, bulk (chunks of o.chunk) or parallel singles
  const rest = N - serialN;
  t = now();
  if (adapter.enqueueMany) {
    for (let s = serialN; s < N; s += o.chunk) {
      const batch = [];
      for (let i = s; i < Math.min(N, s + o.chunk); i++) batch.push({ i });
      await adapter.enqueueMany(batch);
    }
    res.enqueueBulkPerSec = rest / ((now() - t) / 1000);
  } else {
    await pool(rest, o.par, (k) => adapter.enqueue({ i: serialN + k }));
    res.enqueueParallelPerSec = rest / ((now() - t) / 1000);
  }
  // 2) drain
  let done = 0,
    first = 0,
    last = 0;
  const handler = async () => {
    if (!first) first = now();
    done++;
    last = now();
  };
  const t0 = now();
  await adapter.startWorker(handler, { concurrency: C });
  try {
    await waitFor(() => done >= N, o.timeoutMs, 'drain');
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    res.timeout = true;
  }
  res.done = done;
  res.drainPerSec = done / ((last - (first || t0)) / 1000);
  res.drainFromStartPerSec = done / ((last - t0) / 1000); // includes worker start-up
  await adapter.stopWorker();
  return res;
}

/**
 * latency: worker idle-waiting at concurrency C; enqueue single jobs at `rate`/s for `seconds`
 * (open loop: enqueues are not serialized behind each other); record enqueue-call-start -> handler-start.
 */
export async function latency(adapter, o) {
  const total = Math.round(o.rate * o.seconds);
  const lat = new Array(total).fill(NaN);
  let got = 0;
  const handler = async (p) => {
    if (p && typeof p.t === 'number' && Number.isNaN(lat[p.k])) {
      lat[p.k] = now() - p.t;
      got++;
    }
  };
  await adapter.startWorker(handler, { concurrency: o.concurrency });
  await sleep(o.idleMs); // let the worker settle into its idle wait
  const start = now();
  const inflight = new Set();
  let enqErrors = 0,
    maxEnqMs = 0;
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / o.rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    const t = now();
    const p = adapter
      .enqueue({ k, t })
      .then(
        () => {
          maxEnqMs = Math.max(maxEnqMs, now() - t);
        },
        (e) => {
          enqErrors++;
          if (enqErrors < 3) log('enqueue error', e.message);
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  const sendSeconds = (now() - start) / 1000;
  const res = { rate: o.rate, seconds: o.seconds, sent: total, achievedRate: total / sendSeconds };
  try {
    await waitFor(() => got >= total, o.timeoutMs, 'latency drain');
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    res.timeout = true;
  }
  await Promise.race([Promise.allSettled([...inflight]), sleep(5000)]);
  const s = lat.filter(Number.isFinite).sort((a, b) => a - b);
  Object.assign(res, {
    received: s.length,
    enqErrors,
    maxEnqueueCallMs: maxEnqMs,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s[s.length - 1],
  });
  await adapter.stopWorker();
  return res;
}

/**
 * chain: M three-step workflows. With a native workflow API (adapter.workflows) each workflow
 * runs 3 steps; otherwise job 1's handler enqueues job 2, whose handler enqueues job 3
 * (through the handler's `api.enqueue`, the peer's in-handler path). Timed from the first
 * enqueue to the last step-3 completion, worker already running.
 */
export async function chain(adapter, o, variant) {
  const M = o.m,
    STEPS = 3;
  const res = { m: M, steps: STEPS, concurrency: o.concurrency };
  let finished = 0,
    steps = 0;
  // variant: one of adapter.chainVariants (Baton: 'durable', 'dag'), same shape as adapter.workflows.
  const wf = variant ? adapter.chainVariants?.[variant] : adapter.workflows;
  if (variant && !wf) return { ...res, unsupported: true, error: `no chain variant ${variant}` };
  if (variant) res.mode = variant;
  if (wf) {
    res.mode ??= 'native workflow';
    await wf.startWorker(
      async (_payload, step) => {
        steps++;
        if (step === STEPS) finished++;
      },
      { concurrency: o.concurrency, steps: STEPS },
    );
  } else {
    res.mode = 'job chaining';
    await adapter.startWorker(
      async (p, api) => {
        steps++;
        if (p.s < STEPS) await api.enqueue({ w: p.w, s: p.s + 1 });
        else finished++;
      },
      { concurrency: o.concurrency },
    );
  }
  const enqOne = wf ? (p) => wf.enqueue(p) : (p) => adapter.enqueue(p);
  const enqMany = wf ? wf.enqueueMany?.bind(wf) : adapter.enqueueMany?.bind(adapter);
  const t0 = now();
  if (enqMany) {
    for (let s = 0; s < M; s += o.chunk) {
      const b = [];
      for (let w = s; w < Math.min(M, s + o.chunk); w++) b.push({ w, s: 1 });
      await enqMany(b);
    }
  } else {
    await pool(M, o.par, (w) => enqOne({ w, s: 1 }));
  }
  res.enqueueSeconds = (now() - t0) / 1000;
  try {
    await waitFor(() => finished >= M, o.timeoutMs, 'chain');
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    res.timeout = true;
  }
  const secs = (now() - t0) / 1000;
  res.finished = finished;
  res.stepsRun = steps;
  res.workflowsPerSec = finished / secs;
  res.stepsPerSec = steps / secs;
  if (wf) await wf.stopWorker();
  else await adapter.stopWorker();
  return res;
}

/** latency at a lower, non-saturating rate (BENCH_LAT_LOW_RATE, default 50/s). */
export const latencyLow = (adapter, o) => latency(adapter, o);

/** chain through adapter.chainVariants.durable (Baton: one durable task, 3 x ctx.step()). */
export const chainDurable = (adapter, o) => chain(adapter, o, 'durable');
/** chain through adapter.chainVariants.dag (Baton: a 3-task workflow, parents). */
export const chainDag = (adapter, o) => chain(adapter, o, 'dag');

export const WORKLOADS = { throughput, latency, latencyLow, chain, chainDurable, chainDag };
