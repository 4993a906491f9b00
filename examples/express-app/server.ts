// An Express server that enqueues a task per request: POST /orders starts a `place-order` run that
// carries the request's tags (and its trace, and the calling run's context when a task calls it),
// GET /orders/:id reports on it, and the Baton dashboard and API are mounted at /baton.
//
//   npx tsx --conditions=baton-source examples/express-app/server.ts
//   curl -X POST localhost:3000/orders -H 'content-type: application/json' -H 'baton-tags: source=crm' \
//     -d '{"sku":"book-42","quantity":2}'
//   baton tokens create   # then log in at http://127.0.0.1:3000/baton/
import { isBatonError, ValidationError } from 'baton';
import { batonHttp, batonMiddleware } from 'baton/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { baton, placeOrder } from './tasks.js';

const app = express();

// The API and dashboard (a token is needed to log in). Mounted before body parsers.
app.use('/baton', batonHttp(baton));

// Every run enqueued while handling a request gets its tags (plus those of a `baton-tags` header).
app.use(batonMiddleware({ tags: (req) => ({ route: `${req.method} ${req.path}` }) }));
app.use(express.json());

app.post('/orders', async (req, res) => {
  const handle = await placeOrder.enqueue(req.body);
  res.status(202).json({ id: handle.id, status: `/orders/${handle.id}` });
});

app.get('/orders/:id', async (req, res) => {
  const handle = await baton.runs.get(req.params.id);
  const state = await handle.state();
  res.json({ id: handle.id, state: state.name, output: state.output ?? null });
});

// Bad input is the client's mistake; an unknown run id is a 404.
app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
  if (error instanceof ValidationError) return void res.status(422).json({ error: error.message, issues: error.issues });
  if (isBatonError(error) && error.code === 'BATON_RUN_NOT_FOUND') return void res.status(404).json({ error: error.message });
  next(error);
});

// A worker in the same process keeps the example to one command; in production run
// `baton worker examples/express-app/tasks.ts` next to the server instead.
const worker = baton.worker({ name: 'express-app', slots: 8, tasks: [placeOrder] });
await worker.start();

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : process.env.PORT;
  console.log(`listening on http://127.0.0.1:${port} (dashboard at /baton/)`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void baton.close().then(() => process.exit(0));
  });
}
