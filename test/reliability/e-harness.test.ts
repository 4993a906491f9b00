/**
 * Self-test of section E's tools (RELIABILITY.md §5.0): the throwaway PostgreSQL cluster
 * (start, query, `restart -m immediate` drops clients and comes back, ALTER SYSTEM + reload,
 * pg_terminate_backend) and the TCP proxy (pass forwards; reset makes a pg client fail with
 * ECONNRESET; blackhole makes a query with a client-side timeout fail and leaves new connections
 * hanging; latency delays each round trip; pass heals new connections).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { type PgCluster, startPgCluster } from './support/pg-cluster.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let cluster: PgCluster;

beforeAll(async () => {
  const started = performance.now();
  cluster = await startPgCluster({ maxConnections: 30 });
  console.log(
    `[reliability] harness: test cluster started in ${Math.round(performance.now() - started)} ms on port ${cluster.port}`,
  );
});

afterAll(async () => {
  await cluster?.destroy();
});

async function client(url: string, options: Partial<pg.ClientConfig> = {}): Promise<{ c: pg.Client; errors: Error[] }> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, ...options });
  const errors: Error[] = [];
  c.on('error', (error) => errors.push(error));
  await c.connect();
  return { c, errors };
}

describe('test PostgreSQL cluster', () => {
  it('answers queries, survives restart -m immediate (old clients lose their connection), applies ALTER SYSTEM', async () => {
    expect((await cluster.sql<{ one: number }>('SELECT 1 AS one'))[0]?.one).toBe(1);
    expect((await cluster.sql<{ max_connections: string }>('SHOW max_connections'))[0]?.max_connections).toBe('30');
    expect(cluster.url).toBe(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`);

    const { c: before, errors } = await client(cluster.url);
    const started = performance.now();
    await cluster.restart({ mode: 'immediate' });
    const restartMs = Math.round(performance.now() - started);
    await expect(before.query('SELECT 1')).rejects.toThrow();
    await waitFor(() => errors.length > 0, { timeout: 5_000, message: 'old client to see its connection die' });
    await before.end().catch(() => undefined);
    expect((await cluster.sql<{ one: number }>('SELECT 1 AS one'))[0]?.one).toBe(1);

    await cluster.alterSystem('default_transaction_read_only', 'on');
    await waitFor(
      async () =>
        (await cluster.sql<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v"))[0]?.v === 'on',
      {
        timeout: 5_000,
        message: 'read-only default to apply',
      },
    );
    await expect(cluster.sql('CREATE TABLE e_harness_t (id int)')).rejects.toThrow(/read-only/);
    await cluster.alterSystem('default_transaction_read_only', null);
    await waitFor(
      async () =>
        (await cluster.sql<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v"))[0]?.v === 'off',
      {
        timeout: 5_000,
        message: 'read-only default to be reset',
      },
    );
    await cluster.sql('CREATE TABLE e_harness_t (id int)');

    const { c: victim, errors: victimErrors } = await client(cluster.url, { application_name: 'e-harness-victim' });
    const killed = await cluster.terminateBackends((row) => row.applicationName === 'e-harness-victim');
    expect(killed).toHaveLength(1);
    await waitFor(() => victimErrors.length > 0, { timeout: 5_000, message: 'terminated client to see the error' });
    await victim.end().catch(() => undefined);
    console.log(`[reliability] harness: restart -m immediate took ${restartMs} ms`);
  });

  it('stop and start', async () => {
    await cluster.stop({ mode: 'fast' });
    await expect(cluster.sql('SELECT 1')).rejects.toThrow();
    await cluster.start();
    expect((await cluster.sql<{ one: number }>('SELECT 1 AS one'))[0]?.one).toBe(1);
  });
});

describe('TCP proxy', () => {
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: cluster.port });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('pass forwards; the url points at the proxy', async () => {
    const url = proxy.url(cluster.url);
    expect(url).toBe(`postgres://postgres@127.0.0.1:${proxy.port}/postgres`);
    const { c } = await client(url);
    expect((await c.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    expect(proxy.connections()).toBe(1);
    await c.end();
    await waitFor(() => proxy.connections() === 0, { timeout: 2_000, message: 'proxy to drop the closed connection' });
  });

  it('reset makes open and new connections fail with ECONNRESET; pass heals', async () => {
    const url = proxy.url(cluster.url);
    const { c, errors } = await client(url);
    proxy.setMode('reset');
    await expect(c.query('SELECT 1')).rejects.toThrow();
    await waitFor(() => errors.length > 0, { timeout: 2_000, message: 'client error after reset' });
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toContain('ECONNRESET');
    await c.end().catch(() => undefined);
    await expect(client(url)).rejects.toMatchObject({ code: 'ECONNRESET' });
    proxy.setMode('pass');
    const { c: healed } = await client(url);
    expect((await healed.query('SELECT 3 AS three')).rows[0].three).toBe(3);
    await healed.end();
  });

  it('blackhole makes queries hang (a client-side timeout fails them) without closing; new connections hang; pass heals new ones', async () => {
    const url = proxy.url(cluster.url);
    const { c, errors } = await client(url, { query_timeout: 500 });
    proxy.setMode('blackhole');
    const started = performance.now();
    await expect(c.query('SELECT 1')).rejects.toThrow(/timeout/i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
    expect(errors).toEqual([]); // no RST, no FIN reached the client
    await expect(client(url, { connectionTimeoutMillis: 500 })).rejects.toThrow(/timeout/i);
    proxy.setMode('pass');
    const { c: healed } = await client(url);
    expect((await healed.query('SELECT 4 AS four')).rows[0].four).toBe(4);
    await healed.end();
    c.end().catch(() => undefined);
  });

  it('latency delays each round trip', async () => {
    const url = proxy.url(cluster.url);
    const { c } = await client(url);
    proxy.setMode({ latencyMs: 150 });
    const started = performance.now();
    await c.query('SELECT 1');
    const elapsed = performance.now() - started;
    proxy.setMode('pass');
    const fastStarted = performance.now();
    await c.query('SELECT 1');
    const fast = performance.now() - fastStarted;
    expect(elapsed).toBeGreaterThanOrEqual(290); // request and response each wait 150 ms
    expect(fast).toBeLessThan(elapsed);
    await c.end();
  });
});
