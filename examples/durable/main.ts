// An approval flow as a durable task: ask for approval, wait (holding no slot) for the
// decision event or a timeout, then record the refund exactly once in the same database.
import { Baton } from 'baton';

const database = process.env.BATON_DATABASE_URL ?? './.baton/durable-example.db';
const baton = new Baton({ database, logLevel: 'warn' });

const refund = baton.durableTask({ name: 'refund' }, async (input: { orderId: string; amount: number; timeout: string }, ctx) => {
  await ctx.step('ask', async () => console.log(`  asked: approve refund of ${input.amount} for ${input.orderId}?`));
  const decision = await ctx.waitFor(
    'approval',
    { event: 'refund:decided', filter: { orderId: input.orderId } },
    { sleep: input.timeout as `${number}s` },
  );
  if (decision.kind === 'sleep') return `${input.orderId}: no decision in time, escalated`;
  const payload = decision.event?.payload as { approved?: boolean } | undefined;
  if (!payload?.approved) return `${input.orderId}: rejected`;
  const id = await ctx.transaction('record-refund', async (tx) => {
    await tx.query('CREATE TABLE IF NOT EXISTS refunds (order_id TEXT PRIMARY KEY, amount INTEGER)');
    await tx.query('INSERT INTO refunds (order_id, amount) VALUES ($1, $2)', [input.orderId, input.amount]);
    return input.orderId;
  });
  return `${id}: refunded ${input.amount}`;
});

const worker = baton.worker({ name: 'durable-worker', slots: 4, tasks: [refund] });
await worker.start();

const orderId = `o-${Date.now()}`;
const approved = await refund.enqueue({ orderId, amount: 30, timeout: '60s' });
const unanswered = await refund.enqueue({ orderId: `${orderId}-late`, amount: 5, timeout: '1s' });
// Wait (at most 10 s) until both runs are waiting, holding no slot.
for (let i = 0; i < 100; i++) {
  const states = await Promise.all([approved.state(), unanswered.state()]);
  if (states.every((s) => s.name === 'Waiting')) break;
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`waiting: ${(await approved.state()).waitingOn?.message}; free slots: ${worker.freeSlots}`);

await baton.events.push('refund:decided', { orderId, approved: true });
console.log(`approved: ${await approved.result()}`);
console.log(`timed out: ${await unanswered.result()}`);
await baton.close();
