// Runs all selected workloads for ONE peer, `reps` times each, with a fresh state per repetition.
// Invoked by src/bench.js as: node src/child.js <peer[:variant]> <workloads,csv> <out.json>
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { options } from './options.js';
import { log, now, withTimeout } from './util.js';
import { WORKLOADS as CORE } from './workloads.js';
import { EXTRA_WORKLOADS } from './workloads-extra.js';

const [spec, wlCsv, outFile] = process.argv.slice(2);
const [peer, variant] = spec.split(':');
const o = options();
const WORKLOADS = { ...CORE, ...EXTRA_WORKLOADS };

// A library emitting an unhandled 'error' (e.g. a pooled connection killed when the previous
// repetition's database is dropped) must not end the whole peer run: log it and carry on; a
// broken measurement then shows up as an error/timeout in its own repetition.
process.on('uncaughtException', (e) => log(`${spec} uncaught: ${e.message}`));
process.on('unhandledRejection', (e) => log(`${spec} unhandled rejection: ${e?.message ?? e}`));

const mod = await import(new URL(`../adapters/${peer}.js`, import.meta.url));
const create = mod.default;
const out = { peer: spec, workloads: {}, info: null, node: process.version };

for (const wl of wlCsv.split(',').filter(Boolean)) {
  const fn = WORKLOADS[wl];
  if (!fn) continue;
  out.workloads[wl] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    const adapter = create({ variant, concurrency: o.concurrency });
    out.info ??= { version: adapter.version, settings: adapter.settings, name: adapter.name };
    const t = now();
    let r;
    try {
      await withTimeout(adapter.setup({ concurrency: o.concurrency }), 60000, 'setup');
      r = await withTimeout(fn(adapter, { ...o, ...o[wl], peerSpec: spec }), o.repTimeoutMs, `${wl} rep`);
    } catch (e) {
      r = { error: e.message, timeout: /timed out/.test(e.message) };
      log(`${spec} ${wl} #${rep} FAILED: ${e.stack || e.message}`);
    }
    try {
      await withTimeout(adapter.teardown(), 30000, 'teardown');
    } catch (e) {
      log(`${spec} teardown: ${e.message}`);
    }
    r.wallSeconds = (now() - t) / 1000;
    r.loadavg1 = os.loadavg()[0]; // the machine's 1-minute load after the rep (2 cores: > ~2.5 means other work competed)
    out.workloads[wl].push(r);
    log(`${spec} ${wl} #${rep}`, JSON.stringify(r));
    writeFileSync(outFile, JSON.stringify(out, null, 2));
  }
}
writeFileSync(outFile, JSON.stringify(out, null, 2));
log(`${spec} done`);
// Some client libraries keep sockets/timers alive after close; results are on disk, so exit.
process.exit(0);
