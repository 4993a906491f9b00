// The tasks of the Express example. Also an entry for the CLI: `baton worker examples/express-app/tasks.ts`
// serves every task exported here, on the Baton instance that defined it.
import { Baton } from 'baton';
import { z } from 'zod';

export const baton = new Baton({ database: process.env.BATON_DATABASE_URL ?? './.baton/express-app.db', logLevel: 'warn' });

export const placeOrder = baton.task(
  {
    name: 'place-order',
    input: z.object({ sku: z.string().min(1), quantity: z.number().int().positive() }),
    retries: 2,
    retryDelay: '500ms',
  },
  async (input, ctx) => {
    // The request's tags arrived with the run: the `baton-tags` header and the middleware's tags(req).
    await ctx.log(`placing ${input.quantity} × ${input.sku}`, { tags: ctx.tags });
    return { orderId: `o-${ctx.taskRunId.slice(-8)}`, ...input, tags: ctx.tags };
  },
);
