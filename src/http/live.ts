/**
 * Server-sent events: `/runs/:id/live` (state changes and new log lines) and
 * `/runs/:id/stream` (stream chunks with their seq). Each connection polls the
 * store, woken early by this process's notifier, until the run ends or the
 * client leaves; `end` closes it.
 */
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { waitForChange } from '../api/run-handle.js';
import { deserialize } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import type { HttpVariables, NamespaceApi } from './scope.js';
import { jsonView, logView, stateView } from './views.js';

const MIN_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

async function waitForRun(api: NamespaceApi, runId: string, ms: number): Promise<void> {
  const notifier = await api.runtime.notifier();
  await waitForChange(notifier.onRunChanged.bind(notifier), runId, ms);
}

function live(
  c: Context<{ Variables: HttpVariables }>,
  poll: (send: (event: string, data: unknown) => Promise<void>) => Promise<boolean>,
) {
  const api = c.get('api');
  const runId = c.req.param('id') as string;
  // HEAD gets the headers alone: a stream nobody reads would poll until the run ends.
  if (c.req.method === 'HEAD') return c.body(null, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  return streamSSE(c, async (stream) => {
    let isClosed = false;
    stream.onAbort(() => {
      isClosed = true;
    });
    const send = (event: string, data: unknown) => stream.writeSSE({ event, data: JSON.stringify(data) });
    let wait = MIN_POLL_MS;
    while (!isClosed) {
      const hasNews = await poll(send);
      const run = await (await api.runtime.store()).getRun(api.namespace, runId);
      if (!run || isTerminal(run.status)) {
        await poll(send);
        await send('end', { id: runId });
        return;
      }
      wait = hasNews ? MIN_POLL_MS : Math.min(MAX_POLL_MS, wait * 2);
      if (!isClosed) await waitForRun(api, runId, wait);
    }
  });
}

export function liveRoutes(app: Hono<{ Variables: HttpVariables }>): void {
  app.get('/runs/:id/live', async (c) => {
    const api = c.get('api');
    const handle = await api.runs.get(c.req.param('id'));
    let lastState = '';
    let logsSent = 0;
    return live(c, async (send) => {
      let hasNews = false;
      const state = JSON.stringify(stateView(await handle.state()));
      if (state !== lastState) {
        lastState = state;
        hasNews = true;
        await send('state', JSON.parse(state));
      }
      const logs = await handle.logs();
      for (const entry of logs.slice(logsSent)) await send('log', logView(entry));
      if (logs.length > logsSent) hasNews = true;
      logsSent = logs.length;
      return hasNews;
    });
  });

  app.get('/runs/:id/stream', async (c) => {
    const api = c.get('api');
    const handle = await api.runs.get(c.req.param('id'));
    let seq = 0;
    return live(c, async (send) => {
      const chunks = await (await api.runtime.store()).readStream(handle.id, seq, 500);
      for (const chunk of chunks) {
        seq = chunk.seq;
        await send('chunk', { seq: chunk.seq, data: jsonView(deserialize(chunk.data)) });
      }
      return chunks.length > 0;
    });
  });
}
