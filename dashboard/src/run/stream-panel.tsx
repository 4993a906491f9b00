/**
 * A run's stream output over server-sent events (`runs/:id/stream`, one
 * `chunk` event `{ seq, data }` per chunk, then `end`). Chunks are kept in
 * seq order and de-duplicated, so a reconnect that replays them is harmless.
 * Text chunks are joined as they came; other values are shown as JSON lines.
 */
import { useState } from 'react';
import { apiUrl } from '../api/client';
import { Empty } from '../components/layout-parts';
import { useEventSource } from '../lib/hooks';

interface Chunk {
  seq: number;
  data: unknown;
}

export function StreamPanel({ runId }: { runId: string }) {
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [attempt, setAttempt] = useState(0);
  const url = `${apiUrl(`runs/${encodeURIComponent(runId)}/stream`)}${attempt > 0 ? `#${attempt}` : ''}`;
  const status = useEventSource(url, {
    chunk: (data) => {
      const chunk = data as Chunk;
      if (typeof chunk?.seq !== 'number') return;
      setChunks((current) => {
        if (current.some((c) => c.seq === chunk.seq)) return current;
        const next = [...current, chunk];
        next.sort((a, b) => a.seq - b.seq);
        return next;
      });
    },
  });

  const statusText =
    status === 'open' ? 'streaming' : status === 'closed' ? 'ended' : status === 'failed' ? 'disconnected' : 'connecting…';

  return (
    <div className="stream">
      <div className="toolbar">
        <span className={`stream-status status-${status}`} data-testid="stream-status">
          {status === 'open' && <span className="live-dot is-live" aria-hidden="true" />} {statusText}
        </span>
        <span className="muted small">{chunks.length} chunks</span>
        {status === 'failed' && (
          <button type="button" className="button button-small" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {chunks.length === 0 ? (
        <Empty>{status === 'closed' ? 'This run wrote no stream output.' : 'No stream output yet.'}</Empty>
      ) : (
        <pre className="stream-output" data-testid="stream-output">
          {chunks.map((c) => (
            <span key={c.seq} data-testid="stream-chunk" data-seq={c.seq}>
              {typeof c.data === 'string' ? c.data : `${JSON.stringify(c.data)}\n`}
            </span>
          ))}
        </pre>
      )}
    </div>
  );
}
