/**
 * Metrics: throughput, latency (p50/p95) and failure rate over a time window,
 * from `GET api/v1/stats?window=&buckets=30`, refreshed every 10 s; plus the
 * count of runs in each state.
 */
import { useCallback, useState } from 'react';
import { api } from '../api/client';
import type { StateType, Stats } from '../api/types';
import { BarChart, Legend, LineChart } from '../components/charts';
import { Card, ErrorBanner, Loading, PageHeader } from '../components/layout-parts';
import { StateBadge } from '../components/state-badge';
import { formatDuration } from '../lib/format';
import { useResource } from '../lib/hooks';
import { href } from '../lib/router';

const WINDOWS = ['15m', '1h', '6h', '24h', '7d'];
const BUCKETS = 30;
const STATE_TYPE_OF: Record<string, string> = {
  Scheduled: 'SCHEDULED',
  AwaitingRetry: 'SCHEDULED',
  Pending: 'PENDING',
  Running: 'RUNNING',
  Retrying: 'RUNNING',
  Waiting: 'WAITING',
  Completed: 'COMPLETED',
  Cached: 'COMPLETED',
  Skipped: 'COMPLETED',
  Failed: 'FAILED',
  TimedOut: 'FAILED',
  Crashed: 'CRASHED',
  Cancelling: 'CANCELLING',
  Cancelled: 'CANCELLED',
};

function Stat({ label, value, tone }: { label: string; value: string; tone?: string }) {
  return (
    <div className={`stat ${tone ? `tone-${tone}` : ''}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

export function MetricsPage() {
  const [range, setRange] = useState('1h');
  const load = useCallback(
    (signal: AbortSignal) => api.get<Stats>('stats', { window: range, buckets: BUCKETS }, signal),
    [range],
  );
  const stats = useResource(`stats:${range}`, load, 10_000);
  const data = stats.data;

  const times = data?.buckets.map((b) => b.start) ?? [];
  const completed = data?.buckets.map((b) => b.completed) ?? [];
  const failed = data?.buckets.map((b) => b.failed) ?? [];
  const cancelled = data?.buckets.map((b) => b.cancelled ?? 0) ?? [];
  const hasStarted = data?.buckets.some((b) => typeof b.started === 'number') ?? false;
  const started = data?.buckets.map((b) => b.started ?? 0) ?? [];
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const totalDone = sum(completed) + sum(failed);
  const failureRate = data?.buckets.map((b) => (b.completed + b.failed > 0 ? b.failed / (b.completed + b.failed) : null)) ?? [];
  const p95s = (data?.buckets.map((b) => b.p95Ms).filter((v): v is number => v !== null && v !== undefined) ?? []).sort(
    (a, b) => a - b,
  );

  const throughputSeries = [
    { name: 'completed', label: 'Completed', values: completed },
    { name: 'failed', label: 'Failed', values: failed },
    { name: 'cancelled', label: 'Cancelled', values: cancelled },
  ];
  const latencySeries = [
    { name: 'p50', label: 'p50', values: data?.buckets.map((b) => b.p50Ms ?? null) ?? [] },
    { name: 'p95', label: 'p95', values: data?.buckets.map((b) => b.p95Ms ?? null) ?? [] },
  ];

  return (
    <>
      <PageHeader
        title="Metrics"
        subtitle="Runs finished per interval, how long they took, and how many failed."
        actions={
          <div className="segmented">
            {WINDOWS.map((w) => (
              <button
                key={w}
                type="button"
                className={`segment ${w === range ? 'is-active' : ''}`}
                aria-pressed={w === range}
                data-testid={`metrics-window-${w}`}
                onClick={() => setRange(w)}
              >
                {w}
              </button>
            ))}
          </div>
        }
      />
      <ErrorBanner error={stats.error} />
      {!data ? (
        !stats.error && <Loading />
      ) : (
        <>
          <div className="stats-row">
            {hasStarted && <Stat label={`started (${range})`} value={String(sum(started))} />}
            <Stat label={`completed (${range})`} value={String(sum(completed))} tone="good" />
            <Stat label={`failed (${range})`} value={String(sum(failed))} tone={sum(failed) > 0 ? 'bad' : undefined} />
            <Stat
              label="failure rate"
              value={totalDone > 0 ? `${((sum(failed) / totalDone) * 100).toFixed(1)}%` : '—'}
              tone={sum(failed) > 0 ? 'bad' : undefined}
            />
            <Stat label={`cancelled (${range})`} value={String(sum(cancelled))} />
            <Stat label="worst p95" value={p95s.length ? formatDuration(p95s[p95s.length - 1]) : '—'} />
          </div>
          <div className="grid-2">
            <Card title="Throughput" actions={<Legend series={throughputSeries} />}>
              <BarChart
                title="Runs finished per interval"
                testId="chart-throughput"
                times={times}
                series={throughputSeries}
                format={(v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))}
              />
            </Card>
            <Card title="Latency" actions={<Legend series={latencySeries} />}>
              <LineChart
                title="Run duration, p50 and p95"
                testId="chart-latency"
                times={times}
                series={latencySeries}
                format={(v) => formatDuration(v)}
              />
            </Card>
            <Card title="Failure rate" actions={<Legend series={[{ name: 'rate', label: 'failed / finished' }]} />}>
              <LineChart
                title="Share of finished runs that failed"
                testId="chart-failure-rate"
                times={times}
                series={[{ name: 'rate', label: 'Failure rate', values: failureRate }]}
                max={1}
                format={(v) => `${Math.round(v * 100)}%`}
              />
            </Card>
            <Card title="Runs by state">
              {Object.keys(data.byState).length === 0 ? (
                <p className="muted">No runs.</p>
              ) : (
                <ul className="by-state">
                  {Object.entries(data.byState)
                    .sort((a, b) => b[1] - a[1])
                    .map(([name, count]) => {
                      const type = STATE_TYPE_OF[name] ?? name.toUpperCase();
                      return (
                        <li key={name}>
                          <a href={href('/', { status: name })}>
                            <StateBadge state={{ name, type: type as StateType }} />
                          </a>
                          <span className="by-state-count">{count}</span>
                        </li>
                      );
                    })}
                </ul>
              )}
            </Card>
          </div>
        </>
      )}
    </>
  );
}
