// All knobs, from environment variables (documented in README.md).
import { env } from './util.js';

export function options() {
  const concurrency = env('BENCH_CONCURRENCY', 32);
  return {
    reps: env('BENCH_REPS', 3),
    concurrency,
    chunk: env('BENCH_CHUNK', 1000), // bulk enqueue chunk size
    par: env('BENCH_PAR', concurrency), // in-flight single enqueues when a peer has no bulk API
    repTimeoutMs: env('BENCH_REP_TIMEOUT_MS', 300000),
    throughput: {
      n: env('BENCH_N', 20000),
      serialN: env('BENCH_SERIAL_N', 1000), // how many of N are enqueued one at a time
      timeoutMs: env('BENCH_DRAIN_TIMEOUT_MS', 180000),
    },
    latency: {
      rate: env('BENCH_LAT_RATE', 200),
      seconds: env('BENCH_LAT_SECONDS', 10),
      idleMs: env('BENCH_LAT_IDLE_MS', 2000),
      timeoutMs: env('BENCH_LAT_TIMEOUT_MS', 60000),
    },
    latencyLow: {
      rate: env('BENCH_LAT_LOW_RATE', 50),
      seconds: env('BENCH_LAT_SECONDS', 10),
      idleMs: env('BENCH_LAT_IDLE_MS', 2000),
      timeoutMs: env('BENCH_LAT_TIMEOUT_MS', 60000),
    },
    chain: {
      m: env('BENCH_M', 2000),
      timeoutMs: env('BENCH_CHAIN_TIMEOUT_MS', 180000),
    },
    chainDurable: {
      m: env('BENCH_M', 2000),
      timeoutMs: env('BENCH_CHAIN_TIMEOUT_MS', 180000),
    },
    chainDag: {
      m: env('BENCH_M', 2000),
      timeoutMs: env('BENCH_CHAIN_TIMEOUT_MS', 180000),
    },
    fanout: {
      // one parent spawning N children and awaiting them all
      n: env('BENCH_FANOUT_N', 1000),
      timeoutMs: env('BENCH_FANOUT_TIMEOUT_MS', 180000),
    },
    fanoutJobs: {
      n: env('BENCH_FANOUT_N', 1000),
      timeoutMs: env('BENCH_FANOUT_TIMEOUT_MS', 180000),
    },
    sleepMemory: {
      // worker RSS with N runs parked in a durable sleep
      n: env('BENCH_SLEEP_N', 1000),
      timeoutMs: env('BENCH_SLEEP_TIMEOUT_MS', 120000),
    },
    scale: {
      // throughput with several worker processes
      n: env('BENCH_SCALE_N', 20000),
      procs: env('BENCH_SCALE_PROCS', 4),
      timeoutMs: env('BENCH_DRAIN_TIMEOUT_MS', 180000),
    },
    memory: {
      // worker RSS with a large backlog
      n: env('BENCH_MEM_N', 100000),
      sampleSeconds: env('BENCH_MEM_SECONDS', 15),
    },
    limit: {
      clients: String(env('BENCH_LIMIT_CLIENTS', '1,8,32')).split(',').map(Number),
      seconds: env('BENCH_LIMIT_SECONDS', 10),
      scale: env('BENCH_PGBENCH_SCALE', 10),
    },
  };
}
