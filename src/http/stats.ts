/** Chart data for the dashboard: throughput, failures and latency per time bucket. */
import type { RunStatsRows } from '../store/types.js';

const FAILED = ['Failed', 'TimedOut', 'Crashed'];

export interface ChartBucket {
  start: string;
  completed: number;
  failed: number;
  cancelled: number;
  /** Enqueue → end, in ms. */
  p50Ms: number | null;
  p95Ms: number | null;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function chartBuckets(ended: RunStatsRows['ended'], from: number, to: number, count: number): ChartBucket[] {
  const size = Math.max(1, Math.ceil((to - from) / count));
  const latencies: number[][] = Array.from({ length: count }, () => []);
  const buckets = Array.from({ length: count }, (_, i) => ({
    start: new Date(from + i * size).toISOString(),
    completed: 0,
    failed: 0,
    cancelled: 0,
    p50Ms: null as number | null,
    p95Ms: null as number | null,
  }));
  for (const run of ended) {
    const i = Math.min(count - 1, Math.floor((run.finishedAt - from) / size));
    const bucket = buckets[i];
    if (!bucket || i < 0) continue;
    if (FAILED.includes(run.status)) bucket.failed++;
    else if (run.status === 'Cancelled') bucket.cancelled++;
    else bucket.completed++;
    latencies[i]?.push(run.finishedAt - run.createdAt);
  }
  for (const [i, bucket] of buckets.entries()) {
    const sorted = (latencies[i] ?? []).sort((a, b) => a - b);
    bucket.p50Ms = percentile(sorted, 50);
    bucket.p95Ms = percentile(sorted, 95);
  }
  return buckets;
}
