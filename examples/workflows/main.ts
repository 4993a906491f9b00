// An order workflow (a DAG): validate, then charge and reserve stock in parallel, then ship.
// Free orders skip the charge; a declined card cancels shipping and runs the compensation.
import { Baton } from 'baton';

const baton = new Baton({ database: process.env.BATON_DATABASE_URL ?? './.baton/workflows-example.db', logLevel: 'warn' });

interface Order {
  orderId: string;
  total: number;
  card: string;
}

const order = baton.workflow<Order>({ name: 'order' });

const validate = order.task({ name: 'validate' }, async (input) => {
  if (input.total < 0) throw new Error(`order ${input.orderId} has a negative total`);
  return { items: 3 };
});

const charge = order.task({ name: 'charge', parents: [validate], skipIf: (ctx) => ctx.input.total === 0 }, async (input, ctx) => {
  await ctx.log(`charging ${input.total} to card ${input.card}`);
  if (input.card === 'declined') throw new Error('card declined');
  return { chargeId: `ch_${input.orderId}` };
});

const reserve = order.task({ name: 'reserve', parents: [validate] }, async (_input, ctx) => ({
  reserved: ctx.parentOutput(validate).items,
}));

order.task({ name: 'ship', parents: [charge, reserve] }, async (input, ctx) => {
  const paid = ctx.wasSkipped(charge) ? 'free' : ctx.parentOutput(charge).chargeId;
  return `shipped ${ctx.parentOutput(reserve).reserved} items of ${input.orderId} (${paid})`;
});

order.onFailure(async (input, ctx) => {
  await ctx.log(`compensating ${input.orderId}: ${JSON.stringify(ctx.taskRunErrors)}`);
  return { refunded: true };
});

// One task fanning out to 100 children and fanning their results back in.
const price = baton.task({ name: 'price-item' }, async (sku: number) => sku * 3);
const priceCatalog = baton.task({ name: 'price-catalog' }, async (count: number) => {
  const handles = await price.enqueueMany(Array.from({ length: count }, (_, sku) => ({ input: sku })));
  const prices = await Promise.all(handles.map((h) => h.result()));
  return { items: prices.length, total: prices.reduce((a, b) => a + b, 0) };
});

// A workflow started by an event, and a task that streams its progress as it goes.
const onSignup = baton.workflow<{ email: string }>({ name: 'on-signup', on: { events: ['user:signed-up'] } });
onSignup.task(
  { name: 'welcome' },
  async (input, ctx) => `welcome mail to ${input.email} (source: ${String(ctx.additionalMetadata.source)})`,
);

const importer = baton.task({ name: 'import-rows' }, async function* (input: { batches: number }) {
  for (let batch = 1; batch <= input.batches; batch++) yield { batch, rows: batch * 100 };
});

const worker = baton.worker({ name: 'workflow-worker', slots: 20, tasks: [order, price, priceCatalog, onSignup, importer] });
await worker.start();

for (const input of [
  { orderId: 'o-1', total: 30, card: 'visa' },
  { orderId: 'o-2', total: 0, card: 'none' },
  { orderId: 'o-3', total: 12, card: 'declined' },
]) {
  const handle = await order.enqueue(input);
  try {
    console.log(`${input.orderId}: ${JSON.stringify(await handle.result())}`);
  } catch (error) {
    console.log(`${input.orderId}: failed: ${(error as Error).message}`);
  }
  const tasks = await baton.runs.list({ parentRunId: handle.id });
  console.log(
    `  tasks: ${tasks.items
      .map((t) => `${t.taskName}=${t.state.name}`)
      .sort()
      .join(' ')}`,
  );
}

console.log(`price-catalog: ${JSON.stringify(await priceCatalog.run(100))}`);

await baton.events.push('user:signed-up', { email: 'ada@example.com' }, { metadata: { source: 'landing-page' } });
const signup = (await baton.runs.list({ task: 'on-signup', limit: 1 })).items[0];
if (signup) console.log(`event-triggered: ${JSON.stringify(await (await baton.runs.get(signup.id)).result())}`);

const imported = await importer.enqueue({ batches: 3 });
for await (const chunk of imported.stream()) console.log(`stream: ${JSON.stringify(chunk)}`);

const reminder = await baton.schedule(price, 7, { at: new Date(Date.now() + 300) });
console.log(
  `scheduled: ${(await baton.schedules.list()).some((s) => s.id === reminder.id) ? 'a one-off run of price-item in 300 ms' : 'missing'}`,
);
// Wait (at most 10 s) until the scheduler has fired it.
for (let i = 0; i < 100 && (await baton.schedules.get(reminder.id))?.nextFireAt; i++)
  await new Promise((r) => setTimeout(r, 100));
console.log(`fired: ${(await baton.schedules.get(reminder.id))?.nextFireAt === null ? 'yes' : 'not yet'}`);
await baton.close();
