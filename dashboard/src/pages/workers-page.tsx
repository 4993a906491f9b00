/** Workers: who is serving which tasks, with slots in use and heartbeats (GET api/v1/workers, every 5 s). */
import { useCallback, useState } from 'react';
import { api } from '../api/client';
import type { Worker } from '../api/types';
import { Card, Empty, ErrorBanner, Loading, PageHeader } from '../components/layout-parts';
import { Tags } from '../components/tags';
import { RelTime } from '../components/time';
import { useResource } from '../lib/hooks';

/** The docs say "live slots in use" without a shape; accept a number or an object. */
export function slotsOf(worker: Worker): { used: number | undefined; total: number | undefined } {
  if (typeof worker.slots === 'number') return { used: worker.slotsInUse, total: worker.slots };
  const s = worker.slots ?? {};
  return { used: s.used ?? s.inUse ?? worker.slotsInUse, total: s.total ?? s.max };
}

function Slots({ worker }: { worker: Worker }) {
  const { used, total } = slotsOf(worker);
  if (total === undefined) return <span className="muted">—</span>;
  return (
    <span className="slots">
      <meter min={0} max={Math.max(1, total)} value={used ?? 0} high={Math.max(1, total) * 0.9} />
      <span className="num">
        {used ?? '?'} / {total}
      </span>
    </span>
  );
}

export function WorkersPage() {
  const [showStopped, setShowStopped] = useState(false);
  const load = useCallback((signal: AbortSignal) => api.get<{ items: Worker[] }>('workers', undefined, signal), []);
  const workers = useResource('workers', load, 5000);
  const all = workers.data?.items ?? [];
  const shown = showStopped ? all : all.filter((w) => w.live);
  const live = all.filter((w) => w.live);
  const totals = live.reduce(
    (acc, w) => {
      const { used, total } = slotsOf(w);
      return { used: acc.used + (used ?? 0), total: acc.total + (total ?? 0) };
    },
    { used: 0, total: 0 },
  );

  return (
    <>
      <PageHeader title="Workers" subtitle="Processes that claim and run tasks. A worker is live while its heartbeats arrive." />
      <div className="stats-row">
        <div className="stat">
          <div className="stat-value">{live.length}</div>
          <div className="stat-label">live workers</div>
        </div>
        <div className="stat">
          <div className="stat-value">
            {totals.used} / {totals.total}
          </div>
          <div className="stat-label">slots in use</div>
        </div>
        <div className="stat">
          <div className="stat-value">{new Set(live.flatMap((w) => w.taskNames)).size}</div>
          <div className="stat-label">tasks served</div>
        </div>
      </div>
      <Card
        actions={
          <label className="toggle">
            <input type="checkbox" checked={showStopped} onChange={(e) => setShowStopped(e.target.checked)} />
            Show stopped
          </label>
        }
        title="Workers"
      >
        <ErrorBanner error={workers.error} />
        {!workers.data ? (
          !workers.error && <Loading />
        ) : shown.length === 0 ? (
          <Empty>
            {all.length === 0 ? 'No worker has registered. Start one with `baton worker <entry>`.' : 'No live worker.'}
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Status</th>
                  <th>Name</th>
                  <th>Host</th>
                  <th>Labels</th>
                  <th>Slots</th>
                  <th>Tasks</th>
                  <th>Last heartbeat</th>
                  <th>Started</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((w) => (
                  <tr key={w.id} data-testid="worker-row" data-worker-id={w.id}>
                    <td>
                      <span className={`badge ${w.live ? 'state-completed' : w.stoppedAt ? 'state-cancelled' : 'state-crashed'}`}>
                        <span className="badge-dot" aria-hidden="true" />
                        {w.live ? 'Live' : w.stoppedAt ? 'Stopped' : 'Lost'}
                      </span>
                    </td>
                    <td>
                      <div>{w.name}</div>
                      <div className="mono small muted">{w.id}</div>
                    </td>
                    <td className="mono small">
                      {w.host}
                      {w.pid ? `:${w.pid}` : ''}
                    </td>
                    <td>
                      <Tags tags={w.labels} />
                    </td>
                    <td>
                      <Slots worker={w} />
                    </td>
                    <td className="cell-wide">
                      <span className="chips">
                        {w.taskNames.map((t) => (
                          <code key={t} className="chip">
                            {t}
                          </code>
                        ))}
                      </span>
                    </td>
                    <td>
                      <RelTime iso={w.heartbeatAt} />
                    </td>
                    <td>
                      <RelTime iso={w.startedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
