// One worker process of the "scale" workload: node src/scale-worker.js <peer[:variant]> <concurrency> <attachSpec json>
// Attaches to the state the parent set up (no reset), waits for {type:'start'}, runs a no-op
// handler, and reports {done, first, last} (wall-clock ms, comparable across processes).
const [spec, conc, attachJson] = process.argv.slice(2);
const [peer, variant] = spec.split(':');
const concurrency = Number(conc);
const clock = () => performance.timeOrigin + performance.now();
const st = { type: 'progress', done: 0, first: 0, last: 0 };
process.on('uncaughtException', (e) => process.send?.({ type: 'error', message: e.message }));
process.on('unhandledRejection', (e) => process.send?.({ type: 'error', message: String(e?.message ?? e) }));
const { default: create } = await import(new URL(`../adapters/${peer}.js`, import.meta.url));
const adapter = create({ variant, concurrency });
await adapter.attach(JSON.parse(attachJson));
const report = setInterval(() => process.send({ ...st }), 50);
process.on('message', async (m) => {
  if (m.type === 'start') {
    await adapter.startWorker(
      async () => {
        const t = clock();
        if (!st.first) st.first = t;
        st.done++;
        st.last = clock();
      },
      { concurrency },
    );
  } else if (m.type === 'stop') {
    process.send({ ...st });
    clearInterval(report);
    try {
      await adapter.stopWorker();
      await adapter.detach?.();
    } catch (e) {
      process.send({ type: 'error', message: e.message });
    }
    process.exit(0);
  }
});
process.send({ type: 'ready' });
