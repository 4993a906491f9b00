import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admit,
  type FlowCandidate,
  type FlowSnapshot,
  type FlowWorker,
  flowGroup,
  holdersToCancel,
  holdKey,
  judge,
  PREFERENCE_WAIT_MS,
  type RunFlow,
} from '../../../src/engine/flow-control.js';

const NOW = 1_000_000;
const worker: FlowWorker = { id: 'w1', labels: {}, taskNames: ['t'] };

function snapshot(partial: Partial<FlowSnapshot> = {}): FlowSnapshot {
  return { now: NOW, held: new Map(), holding: new Set(), hits: new Map(), workers: [worker], ...partial };
}

function candidate(id: string, flow: RunFlow, extra: Partial<FlowCandidate> = {}): FlowCandidate {
  return { id, queueKey: 't', priority: 1, availableAt: NOW - 10, flow, rank: 0, stickyWorker: null, ...extra };
}

const hold = (key: string, max: number, holderId: string, strategy: 'queue' | 'group-round-robin' = 'queue') => ({
  scope: 't#0',
  key,
  max,
  strategy,
  holderId,
});

describe('flow-control admission', () => {
  it('never admits more than max per key, counting what is already held', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 50 }),
        (keys, max, alreadyHeld, limit) => {
          const candidates = keys.map((key, i) => candidate(`r${i}`, { holds: [hold(key, max, `r${i}`)] }));
          const s = snapshot({ held: new Map([[holdKey('t#0', 'a'), alreadyHeld]]) });
          const admitted = admit(candidates, s, worker, limit);
          expect(admitted.length).toBeLessThanOrEqual(limit);
          const perKey = new Map<string, number>();
          for (const a of admitted) {
            const key = keys[Number(a.id.slice(1))] as string;
            perKey.set(key, (perKey.get(key) ?? 0) + 1);
          }
          expect((perKey.get('a') ?? 0) + alreadyHeld).toBeLessThanOrEqual(Math.max(max, alreadyHeld));
          for (const key of ['b', 'c']) expect(perKey.get(key) ?? 0).toBeLessThanOrEqual(max);
          expect(s.held.get(holdKey('t#0', 'a'))).toBe(alreadyHeld);
        },
      ),
    );
  });

  it('a run whose holder already holds the key (a workflow run in progress) is not counted again', () => {
    const s = snapshot({ held: new Map([[holdKey('t#0', 'k'), 1]]), holding: new Set([holdKey('t#0', 'wf-1')]) });
    expect(judge(candidate('task-2', { holds: [hold('k', 1, 'wf-1')] }), s, worker)).toEqual({ ok: true });
    expect(judge(candidate('task-9', { holds: [hold('k', 1, 'wf-2')] }), s, worker)).toMatchObject({
      ok: false,
      waitingOn: { reason: 'concurrency', key: 'k', max: 1 },
    });
  });

  it('round-robin takes the first run of every group before the second of any', () => {
    const candidates = [
      ...Array.from({ length: 5 }, (_, i) =>
        candidate(`big${i}`, { holds: [hold('big', 10, `big${i}`, 'group-round-robin')] }, { rank: i, availableAt: i }),
      ),
      candidate('small0', { holds: [hold('small', 10, 'small0', 'group-round-robin')] }, { rank: 0, availableAt: 100 }),
    ];
    expect(admit(candidates, snapshot(), worker, 2).map((a) => a.id)).toEqual(['big0', 'small0']);
  });

  it('queue strategy is FIFO across keys within a priority, and priority comes first', () => {
    const candidates = [
      candidate('late-high', { holds: [hold('x', 5, 'late-high')] }, { availableAt: 50, priority: 3 }),
      candidate('early', { holds: [hold('y', 5, 'early')] }, { availableAt: 1, rank: 0 }),
      candidate('second', { holds: [hold('x', 5, 'second')] }, { availableAt: 2, rank: 1 }),
    ];
    expect(admit(candidates, snapshot(), worker, 3).map((a) => a.id)).toEqual(['late-high', 'early', 'second']);
  });

  it('rate limits are sliding windows and say when the next start may happen', () => {
    const rates = [{ key: 'api', limit: 2, perMs: 1_000 }];
    const s = snapshot({ hits: new Map([['api', [NOW - 1_500, NOW - 400, NOW - 100]]]) });
    expect(judge(candidate('r', { rates }), s, worker)).toEqual({
      ok: false,
      waitingOn: expect.objectContaining({ reason: 'rate-limit', key: 'api', until: NOW - 400 + 1_000 }),
    });
    const fresh = snapshot({ hits: new Map([['api', [NOW - 1_500]]]) });
    expect(
      admit([candidate('a', { rates }), candidate('b', { rates }), candidate('c', { rates })], fresh, worker, 10),
    ).toHaveLength(2);
  });

  it('required labels exclude a worker; a missing label everywhere is the reason shown', () => {
    const flow: RunFlow = { labels: [{ key: 'gpu', value: 'a100', required: true, weight: 0 }] };
    const gpuWorker: FlowWorker = { id: 'w2', labels: { gpu: 'a100' }, taskNames: ['t'] };
    expect(judge(candidate('r', flow), snapshot({ workers: [worker, gpuWorker] }), worker)).toEqual({
      ok: false,
      waitingOn: undefined,
    });
    expect(judge(candidate('r', flow), snapshot({ workers: [worker, gpuWorker] }), gpuWorker)).toEqual({ ok: true });
    expect(judge(candidate('r', flow), snapshot(), undefined)).toMatchObject({
      ok: false,
      waitingOn: { reason: 'labels', labels: { gpu: 'a100' } },
    });
  });

  it('weighted labels and soft stickiness prefer a worker only for a while', () => {
    const flow: RunFlow = { labels: [{ key: 'disk', value: 'ssd', required: false, weight: 10 }] };
    const ssd: FlowWorker = { id: 'ssd', labels: { disk: 'ssd' }, taskNames: ['t'] };
    const s = snapshot({ workers: [worker, ssd] });
    expect(judge(candidate('r', flow), s, worker).ok).toBe(false);
    expect(judge(candidate('r', flow), s, ssd).ok).toBe(true);
    expect(judge(candidate('r', flow, { availableAt: NOW - PREFERENCE_WAIT_MS }), s, worker).ok).toBe(true);
    const sticky = candidate('r', { sticky: 'soft' }, { stickyWorker: 'ssd' });
    expect(judge(sticky, s, worker).ok).toBe(false);
    expect(judge({ ...sticky, availableAt: NOW - PREFERENCE_WAIT_MS }, s, worker).ok).toBe(true);
    const hard = candidate('r', { sticky: 'hard' }, { stickyWorker: 'ssd', availableAt: 0 });
    expect(judge(hard, s, worker).ok).toBe(false);
    expect(judge(hard, snapshot({ workers: [worker] }), worker).ok).toBe(true);
  });

  it('cancel-in-progress cancels the oldest holders so the new run fits', () => {
    expect(holdersToCancel(['a', 'b', 'c'], 2)).toEqual(['a', 'b']);
    expect(holdersToCancel(['a'], 2)).toEqual([]);
    expect(holdersToCancel(['a'], 1)).toEqual(['a']);
  });

  it('groups runs by their first concurrency key, else rate key, else queue', () => {
    expect(flowGroup({ holds: [hold('k', 1, 'r')], rates: [{ key: 'api', limit: 1, perMs: 1 }] }, 't')).toBe('c:t#0\u001fk');
    expect(flowGroup({ rates: [{ key: 'api', limit: 1, perMs: 1 }] }, 't')).toBe('r:api');
    expect(flowGroup({ sticky: 'soft' }, 't')).toBe('q:t');
  });
});
