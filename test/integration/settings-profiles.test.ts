// `new Baton()` takes its defaults from the settings layer: the useProfile scope's
// database (a temp SQLite file), namespace and worker defaults, without leaking between
// concurrent scopes. Explicit options still win.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Baton, useProfile } from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const VARIABLES = ['BATON_HOME', 'BATON_PROFILE', 'BATON_DATABASE_URL', 'BATON_NAMESPACE', 'BATON_WORKER_SLOTS'];
let dir: string;
let saved: Record<string, string | undefined>;

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of VARIABLES) delete process.env[name];
  dir = mkdtempSync(join(tmpdir(), 'baton-profiles-'));
  writeFileSync(
    join(dir, 'profiles.json'),
    JSON.stringify({
      profiles: {
        x: { database: join(dir, 'x.db'), namespace: 'ns-x', worker: { slots: 3 } },
        y: { database: join(dir, 'y.db'), namespace: 'ns-y', logLevel: 'warn' },
      },
    }),
  );
  process.env.BATON_HOME = dir;
});
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function enqueueOne(baton: Baton, name: string): Promise<string> {
  const task = baton.task({ name }, async () => 'ok');
  const handle = await task.enqueue();
  return handle.id;
}

async function runIdsIn(database: string, namespace: string): Promise<string[]> {
  const baton = new Baton({ database, namespace, logLevel: 'warn' });
  try {
    return (await baton.runs.list()).items.map((run) => run.id);
  } finally {
    await baton.close();
  }
}

describe('settings and profiles', () => {
  it('new Baton() inside useProfile uses the profile’s database, namespace and worker defaults', async () => {
    const id = await useProfile('x', async () => {
      const baton = new Baton({ logLevel: 'warn' });
      try {
        expect(baton.namespace).toBe('ns-x');
        const task = baton.task({ name: 'noop' }, async () => 'ok');
        expect(baton.worker({ tasks: [task] }).freeSlots).toBe(3);
        expect(baton.worker({ tasks: [task], slots: 5 }).freeSlots).toBe(5);
        return (await task.enqueue()).id;
      } finally {
        await baton.close();
      }
    });
    expect(existsSync(join(dir, 'x.db'))).toBe(true);
    expect(await runIdsIn(join(dir, 'x.db'), 'ns-x')).toEqual([id]);
  });

  it('concurrent useProfile scopes do not leak into each other', async () => {
    const inScope = (profile: string, pause: number) =>
      useProfile(profile, async () => {
        await sleep(pause); // the other scope runs meanwhile
        const baton = new Baton({ logLevel: 'warn' });
        try {
          await sleep(pause);
          return { namespace: baton.namespace, id: await enqueueOne(baton, `task-${profile}`) };
        } finally {
          await baton.close();
        }
      });
    const [x, y] = await Promise.all([inScope('x', 20), inScope('y', 5)]);
    expect([x.namespace, y.namespace]).toEqual(['ns-x', 'ns-y']);
    expect(await runIdsIn(join(dir, 'x.db'), 'ns-x')).toEqual([x.id]);
    expect(await runIdsIn(join(dir, 'y.db'), 'ns-y')).toEqual([y.id]);
  });

  it('explicit options win over the environment, which wins over the profile unless it is told not to', async () => {
    process.env.BATON_NAMESPACE = 'from-env';
    const namespaces = await useProfile('x', async () => {
      const batons = [new Baton({ database: ':memory:' }), new Baton({ database: ':memory:', namespace: 'explicit' })];
      await Promise.all(batons.map((b) => b.close()));
      return batons.map((b) => b.namespace);
    });
    expect(namespaces).toEqual(['from-env', 'explicit']);
    const overridden = useProfile('x', () => new Baton({ database: ':memory:' }), { overrideEnvironment: true });
    expect(overridden.namespace).toBe('ns-x');
    await overridden.close();
  });

  it('fails at start naming a bad BATON_* value', () => {
    process.env.BATON_WORKER_SLOTS = 'many';
    expect(() => new Baton({ database: ':memory:' })).toThrow(
      'BATON_WORKER_SLOTS: must be an integer from 1 to 10000, got "many" (from environment)',
    );
  });
});
