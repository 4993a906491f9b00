// "limit" workload: what this Postgres can physically do on this machine, as a reference.
//  a) pgbench builtin simple-update (-b simple-update; 3 UPDATE/SELECT/INSERT... per tx) TPS
//  b) raw node-postgres loop: per job INSERT, then UPDATE (claim), then UPDATE (complete), each
//     its own autocommit transaction (= 3 durable commits, the minimum for a durable queue that
//     records enqueue, start and finish), C concurrent loops, one connection each.
// Invoked by src/bench.js as: node src/limit.js <out.json>
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { options } from './options.js';
import { dropDatabase, log, now, PG_HOST, PG_PORT, PG_USER, pgUrl, resetDatabase } from './util.js';

const outFile = process.argv[2];
const o = options();
const L = o.limit;
const DB = 'bench_limit';
const out = {
  peer: 'limit',
  info: {
    name: 'postgres-limit',
    settings: {
      pgbench: `-b simple-update -s ${L.scale} -T ${L.seconds}`,
      nodeLoop: 'INSERT + UPDATE + UPDATE, 3 autocommits per job',
    },
  },
  workloads: { pgbench: [], pgloop: [] },
};

function pgbench(args, timeoutMs) {
  return execFileSync('pgbench', ['-h', PG_HOST, '-p', String(PG_PORT), '-U', PG_USER, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function pgLoop(clients, seconds) {
  await resetDatabase(DB);
  const setup = new pg.Client({ connectionString: pgUrl(DB) });
  await setup.connect();
  await setup.query(`CREATE TABLE jobs (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'created',
    payload jsonb, created_at timestamptz NOT NULL DEFAULT now(), started_at timestamptz, finished_at timestamptz)`);
  await setup.end();
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: pgUrl(DB) });
      await c.connect();
      return c;
    }),
  );
  let jobs = 0;
  const t0 = now(),
    deadline = t0 + seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (now() < deadline) {
        const { rows } = await c.query({
          name: 'ins',
          text: 'INSERT INTO jobs (payload) VALUES ($1) RETURNING id',
          values: ['{"i":1}'],
        });
        await c.query({
          name: 'claim',
          text: "UPDATE jobs SET state='active', started_at=now() WHERE id=$1",
          values: [rows[0].id],
        });
        await c.query({
          name: 'done',
          text: "UPDATE jobs SET state='completed', finished_at=now() WHERE id=$1",
          values: [rows[0].id],
        });
        jobs++;
      }
    }),
  );
  const secs = (now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.end()));
  await dropDatabase(DB);
  return jobs / secs;
}

for (let rep = 1; rep <= o.reps; rep++) {
  const pb = { rep };
  try {
    await resetDatabase('bench_pgbench');
    pgbench(['-i', '-q', '-s', String(L.scale), 'bench_pgbench'], 300000);
    for (const c of L.clients) {
      const txt = pgbench(
        ['-n', '-b', 'simple-update', '-c', String(c), '-j', String(Math.min(c, 2)), '-T', String(L.seconds), 'bench_pgbench'],
        (L.seconds + 60) * 1000,
      );
      const m = txt.match(/tps = ([\d.]+) \(without initial connection time\)/);
      pb[`c${c}`] = m ? Number(m[1]) : NaN;
    }
  } catch (e) {
    pb.error = e.message;
  }
  out.workloads.pgbench.push(pb);
  log('pgbench', JSON.stringify(pb));
  const pl = { rep };
  for (const c of L.clients) {
    try {
      pl[`c${c}`] = await pgLoop(c, L.seconds);
    } catch (e) {
      pl.error = e.message;
    }
  }
  out.workloads.pgloop.push(pl);
  log('pg loop jobs/s', JSON.stringify(pl));
  writeFileSync(outFile, JSON.stringify(out, null, 2));
}
await dropDatabase('bench_pgbench');
writeFileSync(outFile, JSON.stringify(out, null, 2));
process.exit(0);
