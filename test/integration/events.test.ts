/**
 * Events (DESIGN.md §2.4, §2.12, issue 4): pushing an event stores it and starts
 * every workflow listening on its key in the same transaction, also when the
 * pushing instance has no code for the workflow — on both stores.
 */
import { type Baton, type EventRecord, PayloadTooLargeError, type TaskContext, ValidationError } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('events', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  interface Seen {
    input: unknown;
    wasTriggeredByEvent: boolean;
    triggeringEvent: EventRecord | undefined;
    additionalMetadata: Record<string, unknown>;
    trigger: TaskContext['trigger'];
    workflowRunId: string;
  }

  function listening(on: Baton, seen: Seen[], name = 'on-order') {
    const wf = on.workflow<{ id: number }>({ name, on: { events: ['order:created'] } });
    wf.task({ name: 'handle' }, async (input, ctx) => {
      seen.push({
        input,
        wasTriggeredByEvent: ctx.wasTriggeredByEvent,
        triggeringEvent: ctx.triggeringEvent,
        additionalMetadata: ctx.additionalMetadata,
        trigger: ctx.trigger,
        workflowRunId: ctx.workflowRunId,
      });
      return input.id;
    });
    return wf;
  }

  it('starts a listening workflow with the payload as input and the event in ctx', async () => {
    const seen: Seen[] = [];
    const wf = listening(baton, seen);
    await baton.worker({ name: 'w', pollInterval: '20ms', tasks: [wf] }).start();
    const event = await baton.events.push('order:created', { id: 7 }, { metadata: { source: 'shop' } });
    expect(event).toMatchObject({ key: 'order:created', payload: { id: 7 }, metadata: { source: 'shop' } });
    expect(event.time).toBeInstanceOf(Date);
    await waitFor(() => seen.length === 1, { timeout: 10_000, message: 'the triggered run' });
    const [s] = seen;
    expect(s?.input).toEqual({ id: 7 });
    expect(s?.wasTriggeredByEvent).toBe(true);
    expect(s?.additionalMetadata).toEqual({ source: 'shop' });
    expect(s?.triggeringEvent).toEqual(event);
    expect(s?.trigger).toEqual({ kind: 'event', event });
    const run = await (await baton.runs.get(s?.workflowRunId as string)).result({ timeout: '10s' });
    expect(run).toEqual({ handle: 7 });
    expect(await baton.events.get(event.id)).toEqual(event);
    const listed = await baton.events.list({ key: 'order:created', limit: 10 });
    expect(listed.items.map((e) => e.id)).toEqual([event.id]);
  });

  it('stores an event nobody listens to and starts nothing', async () => {
    const event = await baton.events.push('nobody:listens', { a: 1 });
    expect(await baton.events.get(event.id)).toEqual(event);
    expect((await baton.runs.list({ limit: 10 })).items).toEqual([]);
  });

  it('starts a workflow registered only by another instance (the pusher has no code for it)', async () => {
    const seen: Seen[] = [];
    const workerSide = fixture.baton();
    const wf = listening(workerSide, seen, 'remote-listener');
    await workerSide.worker({ name: 'remote', pollInterval: '20ms', tasks: [wf] }).start();
    // `baton` defines nothing: the registry tells it who listens.
    const event = await baton.events.push('order:created', { id: 42 }, { metadata: { via: 'api' } });
    await waitFor(() => seen.length === 1, { timeout: 10_000, message: 'the remote run' });
    expect(seen[0]).toMatchObject({ input: { id: 42 }, wasTriggeredByEvent: true, additionalMetadata: { via: 'api' } });
    expect(seen[0]?.triggeringEvent?.id).toBe(event.id);
    const runs = await baton.runs.list({ limit: 10 });
    // The workflow run's row and its one task's row, both from this one event.
    expect(runs.items.map((r) => r.workflowName)).toEqual(['remote-listener', 'remote-listener']);
  });

  it('refuses an oversized event and writes nothing', async () => {
    const small = fixture.baton({ limits: { event: 1024 } });
    const seen: Seen[] = [];
    const wf = listening(small, seen);
    await small.register(wf);
    await expect(small.events.push('order:created', { id: 1, blob: 'x'.repeat(5000) })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    expect((await small.events.list()).items).toEqual([]);
    expect((await small.runs.list({ limit: 10 })).items).toEqual([]);
  });

  it('refuses a bad key', async () => {
    await expect(baton.events.push(' bad key', 1)).rejects.toBeInstanceOf(ValidationError);
  });
});
