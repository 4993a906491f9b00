/** /api/v1/runs: start, list, read and act on runs (single and bulk). */
import type { Hono } from 'hono';
import type { EnqueueOptions } from '../api/enqueue.js';
import { RunHandle } from '../api/run-handle.js';
import { currentState, toSummary } from '../api/run-state.js';
import { startByName } from '../api/start-by-name.js';
import { deserialize } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import { HttpError } from './errors.js';
import { asList, readBody, readQuery } from './request.js';
import { bulkSchema, cancelSchema, forkSchema, listRunsQuery, type StartRunBody, startRunSchema } from './schemas.js';
import type { HttpVariables, NamespaceApi } from './scope.js';
import { jsonView, logView, stateView, summaryView } from './views.js';

const BULK_MAX = 10_000;

function tagsOf(values: string[] | undefined): Record<string, string> | undefined {
  if (!values) return undefined;
  const tags: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf(':');
    if (at <= 0) throw new HttpError(400, 'BATON_BAD_QUERY', `tag must be key:value, got ${JSON.stringify(value)}`);
    tags[value.slice(0, at)] = value.slice(at + 1);
  }
  return tags;
}

function enqueueOptionsOf(body: StartRunBody, idempotencyHeader: string | undefined): EnqueueOptions {
  const o = body.options ?? {};
  const options: EnqueueOptions = {};
  if (o.tags) options.tags = o.tags;
  if (o.metadata) options.metadata = o.metadata as EnqueueOptions['metadata'];
  if (o.priority !== undefined) options.priority = o.priority;
  const key = idempotencyHeader ?? o.idempotencyKey;
  if (key !== undefined) options.idempotencyKey = key;
  if (o.delay !== undefined) options.delay = o.delay as EnqueueOptions['delay'];
  if (o.runAt !== undefined) options.runAt = new Date(o.runAt);
  return options;
}

/** Starts a run of a task or workflow by name: through its definition when this process has it, else its stored template. */
function startRun(api: NamespaceApi, body: StartRunBody, idempotencyHeader: string | undefined) {
  return startByName(
    api.runtime,
    {
      kind: body.workflow !== undefined ? 'workflow' : 'task',
      name: (body.task ?? body.workflow) as string,
      input: body.input,
      options: enqueueOptionsOf(body, idempotencyHeader),
    },
    (name) => api.localTarget(name),
  );
}

/** A run with its states, attempts, children, DAG and steps: `GET /runs/:id`, and `baton runs show`. */
export async function runDetail(api: NamespaceApi, id: string) {
  const store = await api.runtime.store();
  const run = await store.getRun(api.namespace, id);
  if (!run) throw new HttpError(404, 'BATON_RUN_NOT_FOUND', `no run with id ${id} in namespace "${api.namespace}"`);
  const handle = new RunHandle(api.runtime, id);
  const [state, states, attempts, children, steps] = await Promise.all([
    handle.state(),
    handle.states(),
    handle.attempts(),
    store.listRuns({ namespace: api.namespace, parentRunId: id, limit: 200 }),
    run.kind === 'task' ? store.loadSteps(id) : Promise.resolve([]),
  ]);
  let dag: unknown;
  if (run.kind === 'workflow') {
    const [stored, tasks] = await Promise.all([store.getDag(api.namespace, id), store.listWorkflowTasks(api.namespace, id)]);
    dag = {
      tasks: (stored?.tasks ?? []).map((t) => {
        const row = tasks.find((r) => r.taskName === t.name);
        return {
          name: t.name,
          parents: t.parents,
          runId: row?.id,
          state: row ? stateView(currentState(row, undefined)) : undefined,
        };
      }),
    };
  }
  return {
    ...summaryView(toSummary(run)),
    kind: run.kind,
    state: stateView(state),
    input: jsonView(deserialize(run.input)),
    output: jsonView(deserialize(run.output)),
    error: run.error ?? undefined,
    metadata: jsonView(run.metadata),
    trigger: jsonView(run.trigger),
    priority: run.priority,
    progress: run.progress === null ? undefined : { value: run.progress, message: run.progressMessage ?? undefined },
    states: states.map(stateView),
    attempts: jsonView(attempts),
    children: children.items.map((c) => summaryView(toSummary(c))),
    dag,
    steps: steps.map((s) => ({
      name: s.key,
      kind: s.kind,
      output: jsonView(deserialize(s.output)),
      error: s.error ?? undefined,
      attempt: s.attempt,
      createdAt: new Date(s.createdAt).toISOString(),
    })),
  };
}

async function matchingRuns(
  api: NamespaceApi,
  filter: { status?: string | string[]; task?: string; tags?: Record<string, string> },
) {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < BULK_MAX / 1000 && ids.length < BULK_MAX; page++) {
    const list = await api.runs.list({
      ...(filter.status === undefined ? {} : { status: asList(filter.status) as never }),
      ...(filter.task === undefined ? {} : { task: filter.task }),
      ...(filter.tags === undefined ? {} : { tags: filter.tags }),
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    ids.push(...list.items.map((r) => r.id));
    cursor = list.nextCursor;
    if (!cursor) break;
  }
  return ids.slice(0, BULK_MAX);
}

export function runRoutes(app: Hono<{ Variables: HttpVariables }>): void {
  // Before /runs/:id/…, which would otherwise take "bulk" for an id.
  app.post('/runs/bulk/:action{cancel|retry|resume|replay}', async (c) => {
    const body = await readBody(c, bulkSchema);
    const api = c.get('api');
    const ids = await matchingRuns(api, body.filter);
    const action = c.req.param('action');
    const done: string[] = [];
    for (const id of ids) {
      const handle = new RunHandle(api.runtime, id);
      try {
        if (action === 'cancel') {
          if (!isTerminal((await handle.state()).name)) await handle.cancel(body.reason ?? 'cancelled in bulk over HTTP');
          done.push(id);
        } else if (action === 'retry' || action === 'resume') done.push((await handle.retry()).id);
        else done.push((await handle.replay()).id);
      } catch {
        // A run not in a state for the action is skipped; the answer lists the ones acted on.
      }
    }
    return c.json({ count: done.length, ids: done });
  });

  app.post('/runs', async (c) => {
    const body = await readBody(c, startRunSchema);
    const result = await startRun(c.get('api'), body, c.req.header('idempotency-key'));
    return c.json(result, result.outcome === 'deduplicated' ? 200 : 201);
  });

  app.get('/runs', async (c) => {
    const q = readQuery(c, listRunsQuery);
    const list = await c.get('api').runs.list({
      ...(q.status === undefined ? {} : { status: asList(q.status) as never }),
      ...(q.task === undefined ? {} : { task: q.task }),
      ...(q.tag === undefined ? {} : { tags: tagsOf(asList(q.tag)) as Record<string, string> }),
      ...(q.parent === undefined ? {} : { parentRunId: q.parent }),
      ...(q.createdAfter === undefined ? {} : { createdAfter: new Date(q.createdAfter) }),
      ...(q.createdBefore === undefined ? {} : { createdBefore: new Date(q.createdBefore) }),
      ...(q.limit === undefined ? {} : { limit: q.limit }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    return c.json({ items: list.items.map(summaryView), ...(list.nextCursor ? { nextCursor: list.nextCursor } : {}) });
  });

  app.get('/runs/:id', async (c) => c.json(await runDetail(c.get('api'), c.req.param('id'))));

  app.get('/runs/:id/logs', async (c) => {
    const handle = await c.get('api').runs.get(c.req.param('id'));
    return c.json({ items: (await handle.logs()).map(logView) });
  });

  app.post('/runs/:id/cancel', async (c) => {
    const body = await readBody(c, cancelSchema);
    const handle = await c.get('api').runs.get(c.req.param('id'));
    await handle.cancel(body.reason ?? 'cancelled over HTTP');
    return c.json({ id: handle.id });
  });

  // resume: an ended run gets a new attempt; a durable one replays its recorded steps and goes on from there.
  for (const action of ['retry', 'resume']) {
    app.post(`/runs/:id/${action}`, async (c) => {
      await readBody(c, cancelSchema.pick({}));
      const handle = await (await c.get('api').runs.get(c.req.param('id'))).retry();
      return c.json({ id: handle.id });
    });
  }

  app.post('/runs/:id/replay', async (c) => {
    await readBody(c, cancelSchema.pick({}));
    const handle = await (await c.get('api').runs.get(c.req.param('id'))).replay();
    return c.json({ id: handle.id }, 201);
  });

  app.post('/runs/:id/fork', async (c) => {
    const body = await readBody(c, forkSchema);
    const handle = await (await c.get('api').runs.get(c.req.param('id'))).fork({ fromStep: body.fromStep });
    return c.json({ id: handle.id }, 201);
  });
}
