#!/usr/bin/env node
// Orchestrator: runs each selected peer in its own child process, one after another, then
// prints a Markdown table (median of reps, min–max) and writes results/<stamp>.json + .md.
//   node src/bench.js [--peers baton:sqlite,baton:postgres,pgboss,graphile-worker,bullmq,dbos]
//                     [--workloads throughput,latency,chain[,latencyLow,scale,memory,limit]]
// Defaults: BENCH_PEERS / BENCH_WORKLOADS, else Baton (both variants) + the 4 peers x throughput,latency,chain.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { options } from './options.js';
import { ratioTable, renderMarkdown } from './report.js';
import { log } from './util.js';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((s) => s.trim().split(/[ =]+/))
    .map(([k, v]) => [k, v ?? 'true']),
);
const peers = (args.peers || process.env.BENCH_PEERS || 'baton:sqlite,baton:postgres,pgboss,graphile-worker,bullmq,dbos')
  .split(',')
  .filter(Boolean);
const workloads = (args.workloads || process.env.BENCH_WORKLOADS || 'throughput,latency,chain').split(',').filter(Boolean);
const peerWorkloads = workloads.filter((w) => w !== 'limit');
const o = options();
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const resultsDir = here('../results/');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
// Hard cap per child: every rep of every workload at its own timeout, plus slack.
const childTimeoutMs = Number(
  process.env.BENCH_PEER_TIMEOUT_MS || (o.repTimeoutMs + 90000) * o.reps * Math.max(1, peerWorkloads.length),
);

function runChild(script, argv, outFile) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', here(script), ...argv, outFile], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => {
      log(`killing ${argv[0] || script} (pid ${child.pid}) after ${childTimeoutMs} ms`);
      child.kill('SIGKILL');
    }, childTimeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

const all = {
  startedAt: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  },
  options: o,
  peers: [],
};
for (const peer of peers) {
  if (!peerWorkloads.length) break;
  const outFile = `${resultsDir}${stamp}-${peer.replace(':', '_')}.json`;
  log(`=== ${peer}: ${peerWorkloads.join(',')} x${o.reps}`);
  const { code, signal } = await runChild('./child.js', [peer, peerWorkloads.join(',')], outFile);
  const r = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : { peer, workloads: {} };
  if (code !== 0) r.processError = `child exited code=${code} signal=${signal}`;
  all.peers.push(r);
}
if (workloads.includes('limit')) {
  const outFile = `${resultsDir}${stamp}-limit.json`;
  log('=== postgres limit (pgbench + raw pg loop)');
  const { code, signal } = await runChild('./limit.js', [], outFile);
  all.limit = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : null;
  if (code !== 0) all.limitError = `child exited code=${code} signal=${signal}`;
}
all.finishedAt = new Date().toISOString();
all.ratios = ratioTable(all);
const md = renderMarkdown(all);
writeFileSync(`${resultsDir}${stamp}.json`, JSON.stringify(all, null, 2));
writeFileSync(`${resultsDir}${stamp}.md`, md);
console.log(md);
log(`wrote results/${stamp}.json and results/${stamp}.md`);
