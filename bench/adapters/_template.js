export default function create({ variant, concurrency = 32 } = {}) {
  let queue = []; // replace: the contender's storage
  let waiters = []; // idle worker slots waiting for a job
  let running = false;

  const push = (payload) => {
    queue.push(payload);
    const w = waiters.shift();
    if (w) w();
  };
  // Resolves with the next payload, or null once the worker is stopped.
  const take = () =>
    new Promise((resolve) => {
      const tryTake = () => {
        if (!running) return resolve(null);
        if (queue.length) return resolve(queue.shift());
        waiters.push(tryTake);
      };
      tryTake();
    });

  let slots = [];
  const start = (run) => {
    running = true;
    slots = Array.from({ length: concurrency }, async () => {
      for (let p = await take(); p !== null; p = await take()) await run(p);
    });
  };
  const stop = async () => {
    running = false;
    for (const w of waiters.splice(0)) w(); // wake idle slots so they exit
    await Promise.race([Promise.all(slots), new Promise((r) => setTimeout(r, 5000))]);
  };

  return {
    name: `template${variant ? `:${variant}` : ''}`,
    version: '0.0.0', // e.g. pkgVersion('baton')
    settings: { storage: 'in-memory (NOT durable): harness self-test only', concurrency },
    async setup() {
      queue = [];
      waiters = [];
    }, // e.g. drop/create DB, run migrations
    async teardown() {
      await stop();
      queue = [];
    },
    async enqueue(payload) {
      push(payload);
    }, // e.g. await baton.enqueue('bench', payload)
    async enqueueMany(payloads) {
      for (const p of payloads) push(p);
    },
    async startWorker(handler) {
      const api = { enqueue: async (p) => push(p) };
      start((payload) => handler(payload, api));
    },
    async stopWorker() {
      await stop();
    },
    workflows: {
      async startWorker(stepFn, { steps }) {
        start(async (payload) => {
          for (let s = 1; s <= steps; s++) await stepFn(payload, s);
        });
      },
      async enqueue(payload) {
        push(payload);
      },
      async stopWorker() {
        await stop();
      },
    },
  };
}
