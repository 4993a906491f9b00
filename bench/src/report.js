// Markdown rendering: median of repetitions with [min–max].
import { median, round } from './util.js';

function cell(values, d = 0) {
  const v = values.filter((x) => Number.isFinite(x));
  if (!v.length) return 'n/a';
  const med = round(median(v), d);
  if (v.length === 1) return `${med}`;
  return `${med} [${round(Math.min(...v), d)}–${round(Math.max(...v), d)}]`;
}
const flags = (reps) => {
  const t = reps.filter((r) => r.timeout).length,
    e = reps.filter((r) => r.error && !r.timeout).length;
  return [t ? `${t}× timeout` : '', e ? `${e}× error` : ''].filter(Boolean).join(', ');
};
const pick = (reps, k) => (reps || []).map((r) => r[k]);

export function renderMarkdown(all) {
  const L = [];
  const m = all.machine;
  L.push(`# peer-bench results (${all.startedAt})`, '');
  L.push(`Machine: ${m.cpus} CPU (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, ${m.platform}.`);
  const o = all.options;
  L.push(
    `Settings: reps=${o.reps}, concurrency=${o.concurrency}, N=${o.throughput.n} (first ${o.throughput.serialN} enqueued one at a time), latency ${o.latency.rate}/s x ${o.latency.seconds}s, chain M=${o.chain.m}. Cells: median [min–max].`,
    '',
  );
  const tp = all.peers.filter((p) => p.workloads.throughput);
  if (tp.length) {
    L.push(
      '## throughput (no-op jobs)',
      '',
      '| peer | version | enqueue 1-at-a-time jobs/s | enqueue bulk jobs/s | enqueue parallel singles jobs/s | drain jobs/s | notes |',
      '|---|---|---|---|---|---|---|',
    );
    for (const p of tp) {
      const r = p.workloads.throughput;
      L.push(
        `| ${p.peer} | ${p.info?.version ?? ''} | ${cell(pick(r, 'enqueueSerialPerSec'))} | ${cell(pick(r, 'enqueueBulkPerSec'))} | ${cell(pick(r, 'enqueueParallelPerSec'))} | ${cell(pick(r, 'drainPerSec'))} | ${[flags(r), p.processError].filter(Boolean).join('; ')} |`,
      );
    }
    L.push('');
  }
  const lt = all.peers.filter((p) => p.workloads.latency || p.workloads.latencyLow);
  if (lt.length) {
    L.push(
      '## latency (enqueue call start → handler start, ms)',
      '',
      '| peer | target rate/s | p50 | p95 | p99 | max | achieved rate/s | notes |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const p of lt)
      for (const key of ['latencyLow', 'latency']) {
        const r = p.workloads[key];
        if (!r) continue;
        L.push(
          `| ${p.peer} | ${r.find((x) => x.rate)?.rate ?? ''} | ${cell(pick(r, 'p50'), 1)} | ${cell(pick(r, 'p95'), 1)} | ${cell(pick(r, 'p99'), 1)} | ${cell(pick(r, 'max'), 1)} | ${cell(pick(r, 'achievedRate'))} | ${[flags(r), p.processError].filter(Boolean).join('; ')} |`,
        );
      }
    L.push('');
  }
  const CHAIN_ROWS = [
    ['chain', ''],
    ['chainDurable', ' (durable)'],
    ['chainDag', ' (dag)'],
  ];
  const ch = all.peers.filter((p) => CHAIN_ROWS.some(([k]) => p.workloads[k]));
  if (ch.length) {
    L.push(
      '## chain (3 sequential steps per workflow)',
      '',
      '| peer | mode | workflows/s | steps/s | notes |',
      '|---|---|---|---|---|',
    );
    for (const p of ch)
      for (const [k, suffix] of CHAIN_ROWS) {
        const r = p.workloads[k];
        if (!r || r.every((x) => x.unsupported)) continue;
        L.push(
          `| ${p.peer}${suffix} | ${r.find((x) => x.mode)?.mode ?? ''} | ${cell(pick(r, 'workflowsPerSec'))} | ${cell(pick(r, 'stepsPerSec'))} | ${[flags(r), p.processError].filter(Boolean).join('; ')} |`,
        );
      }
    L.push('');
  }
  const FAN_ROWS = [
    ['fanout', ''],
    ['fanoutJobs', ' (jobs)'],
  ];
  const fo = all.peers.filter((p) => FAN_ROWS.some(([k]) => p.workloads[k]));
  if (fo.length) {
    L.push(
      `## fan-out (one parent spawns ${o.fanout?.n ?? ''} children and awaits them; wall seconds, lower is better)`,
      '',
      '| peer | mode | seconds | children/s | notes |',
      '|---|---|---|---|---|',
    );
    for (const p of fo)
      for (const [k, suffix] of FAN_ROWS) {
        const r = p.workloads[k];
        if (!r) continue;
        const rate = r.map((x) => (x.timeout || x.error ? NaN : x.n / x.seconds));
        L.push(
          `| ${p.peer}${suffix} | ${r.find((x) => x.mode)?.mode ?? ''} | ${cell(pick(r, 'seconds'), 2)} | ${cell(rate)} | ${[flags(r), p.processError].filter(Boolean).join('; ')} |`,
        );
      }
    L.push('');
  }
  const sm = all.peers.filter((p) => p.workloads.sleepMemory);
  if (sm.length) {
    L.push(
      `## memory with ${o.sleepMemory?.n ?? ''} durable sleeps (one worker, RSS after GC)`,
      '',
      '| peer | RSS idle worker MiB | RSS with N sleeping MiB | RSS delta MiB | JS heap delta MiB | seconds until all sleeping | notes |',
      '|---|---|---|---|---|---|---|',
    );
    for (const p of sm) {
      const r = p.workloads.sleepMemory;
      const unsup = r.some((x) => x.unsupported) ? `n/a: ${r.find((x) => x.unsupported).error}` : '';
      L.push(
        `| ${p.peer} | ${cell(pick(r, 'rssIdleMiB'))} | ${cell(pick(r, 'rssSleepingMiB'))} | ${cell(pick(r, 'rssDeltaMiB'), 1)} | ${cell(pick(r, 'heapDeltaMiB'), 1)} | ${cell(pick(r, 'secondsToAllSleeping'), 2)} | ${[unsup || flags(r), p.processError].filter(Boolean).join('; ')} |`,
      );
    }
    L.push('');
  }
  const sc = all.peers.filter((p) => p.workloads.scale);
  if (sc.length) {
    L.push(
      `## scale (${o.scale?.procs ?? 4} worker processes, ${o.scale?.n ?? ''} no-op jobs enqueued in bulk first)`,
      '',
      '| peer | drain jobs/s | jobs per process | notes |',
      '|---|---|---|---|',
    );
    for (const p of sc) {
      const r = p.workloads.scale;
      const per = r.find((x) => x.perProcess)?.perProcess?.join(' / ') ?? '';
      const unsup = r.some((x) => x.unsupported) ? 'not supported by the adapter' : '';
      L.push(
        `| ${p.peer} | ${cell(pick(r, 'drainPerSec'))} | ${per} | ${[unsup || flags(r), p.processError].filter(Boolean).join('; ')} |`,
      );
    }
    L.push('');
  }
  const mem = all.peers.filter((p) => p.workloads.memory);
  if (mem.length) {
    L.push(
      `## memory (one worker, backlog of ${o.memory?.n ?? ''} runs, RSS sampled for ${o.memory?.sampleSeconds ?? ''} s)`,
      '',
      '| peer | RSS before worker MiB | peak RSS MiB | delta MiB | jobs/s in window | notes |',
      '|---|---|---|---|---|---|',
    );
    for (const p of mem) {
      const r = p.workloads.memory;
      L.push(
        `| ${p.peer} | ${cell(pick(r, 'rssBaselineMiB'))} | ${cell(pick(r, 'rssPeakMiB'))} | ${cell(pick(r, 'rssDeltaMiB'))} | ${cell(pick(r, 'jobsPerSecInWindow'))} | ${[flags(r), p.processError].filter(Boolean).join('; ')} |`,
      );
    }
    L.push('');
  }
  if (all.limit) {
    const { pgbench, pgloop } = all.limit.workloads;
    const cs = o.limit.clients;
    L.push(
      '## limit (this Postgres on this machine)',
      '',
      `| measure | ${cs.map((c) => `${c} client${c > 1 ? 's' : ''}`).join(' | ')} |`,
      `|---|${cs.map(() => '---').join('|')}|`,
    );
    L.push(`| pgbench simple-update TPS | ${cs.map((c) => cell(pick(pgbench, `c${c}`))).join(' | ')} |`);
    L.push(`| node pg INSERT+UPDATE+UPDATE jobs/s (3 commits/job) | ${cs.map((c) => cell(pick(pgloop, `c${c}`))).join(' | ')} |`);
    L.push('');
  }
  L.push(...renderRatios(all));
  L.push('## settings per peer', '');
  for (const p of all.peers) L.push(`- **${p.peer}** ${p.info?.version ?? ''}: \`${JSON.stringify(p.info?.settings ?? {})}\``);
  L.push('');
  return L.join('\n');
}

// Ratios: for every contender whose name starts with `baton`, its median ÷ each peer's median, per
// workload metric. Throughput-like metrics: > 1 means Baton is faster. Latency: < 1 means Baton is
// faster (lower). Enqueue bulk is compared with the peer's bulk API, or with its parallel singles
// when it has none (marked *).
const medianOf = (reps, k) => median((reps || []).filter((r) => !r.timeout && !r.error).map((r) => r[k]));
const RATIO_METRICS = [
  { wl: 'throughput', key: 'enqueueSerialPerSec', label: 'enqueue 1-at-a-time jobs/s', better: 'higher' },
  { wl: 'throughput', key: 'enqueueBulkPerSec', alt: 'enqueueParallelPerSec', label: 'enqueue bulk jobs/s', better: 'higher' },
  { wl: 'throughput', key: 'drainPerSec', label: 'drain jobs/s', better: 'higher' },
  { wl: 'latency', key: 'p50', label: 'latency p50', better: 'lower' },
  { wl: 'latency', key: 'p95', label: 'latency p95', better: 'lower' },
  { wl: 'latency', key: 'p99', label: 'latency p99', better: 'lower' },
  { wl: 'latencyLow', key: 'p50', label: 'latency 50/s p50', better: 'lower' },
  { wl: 'latencyLow', key: 'p99', label: 'latency 50/s p99', better: 'lower' },
  { wl: 'chain', key: 'workflowsPerSec', label: 'chain workflows/s', better: 'higher' },
  { wl: 'chainDurable', peerWl: 'chain', key: 'workflowsPerSec', label: 'chain workflows/s, Baton durable (3 x ctx.step)', better: 'higher' },
  { wl: 'chainDag', peerWl: 'chain', key: 'workflowsPerSec', label: 'chain workflows/s, Baton DAG workflow', better: 'higher' },
  { wl: 'fanout', key: 'seconds', label: 'fan-out seconds (each side native where it has it)', better: 'lower' },
  { wl: 'fanoutJobs', key: 'seconds', label: 'fan-out seconds, jobs + counter (both sides)', better: 'lower' },
  { wl: 'scale', key: 'drainPerSec', label: 'scale drain jobs/s (4 procs)', better: 'higher' },
  { wl: 'memory', key: 'rssPeakMiB', label: 'memory worker peak RSS MiB', better: 'lower' },
  { wl: 'sleepMemory', key: 'rssSleepingMiB', label: 'RSS MiB with 1,000 durable sleeps', better: 'lower' },
];

export function ratioTable(all) {
  const ours = all.peers.filter((p) => p.peer.startsWith('baton'));
  const peers = all.peers.filter((p) => !p.peer.startsWith('baton'));
  const rows = [];
  for (const m of RATIO_METRICS) {
    for (const b of ours) {
      const bv = medianOf(b.workloads[m.wl], m.key);
      if (!Number.isFinite(bv)) continue;
      const row = { metric: m.label, better: m.better, baton: b.peer, batonValue: bv, ratios: {} };
      for (const p of peers) {
        const pw = m.peerWl ?? m.wl; // Baton's variant rows compare with the peer's own workload
        let pv = medianOf(p.workloads[pw], m.key);
        let star = false;
        if (!Number.isFinite(pv) && m.alt) {
          pv = medianOf(p.workloads[pw], m.alt);
          star = Number.isFinite(pv);
        }
        const native = pw === 'chain' && (p.workloads.chain || []).some((x) => x.mode === 'native workflow');
        row.ratios[p.peer] = Number.isFinite(pv) && pv > 0 ? { ratio: bv / pv, peerValue: pv, star, native } : null;
      }
      rows.push(row);
    }
  }
  return { peers: peers.map((p) => p.peer), rows };
}

// Two significant digits, so that 0.004 does not print as 0.
const fmtRatio = (r) => (r >= 100 ? String(Math.round(r)) : String(Number(r.toPrecision(2))));

function renderRatios(all) {
  const { peers, rows } = ratioTable(all);
  if (!peers.length || !rows.length) return [];
  const L = [
    '## ratios: Baton ÷ peer (medians)',
    '',
    'Throughput rows: > 1 = Baton faster. Latency, memory and fan-out seconds rows: < 1 = Baton better (lower). * = the peer has no bulk API (parallel singles). † = the peer runs chain as a native 3-step workflow (Baton plain chain row: job chaining; its durable and DAG rows are native too).',
    '',
    `| metric | better | Baton variant | Baton value | ${peers.join(' | ')} |`,
    `|---|---|---|---|${peers.map(() => '---').join('|')}|`,
  ];
  for (const r of rows) {
    const d = /seconds/.test(r.metric) ? 2 : r.better === 'lower' ? 1 : 0;
    const cells = peers.map((p) => {
      const x = r.ratios[p];
      return x ? `${fmtRatio(x.ratio)}${x.star ? '*' : ''}${x.native ? '†' : ''}` : 'n/a';
    });
    L.push(`| ${r.metric} | ${r.better} | ${r.baton} | ${round(r.batonValue, d)} | ${cells.join(' | ')} |`);
  }
  L.push('');
  return L;
}
