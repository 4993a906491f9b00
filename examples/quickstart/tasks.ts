// Three tasks modelled on real use. Each shows a part of the execution context.
import { type Baton, getRunContext, NonRetryableError, taskLog, withCustomContext } from 'baton';
import { z } from 'zod';

/** A stand-in for an email provider that has a bad minute now and then. */
export class FlakyMailProvider {
  private calls = 0;
  async send(to: string, subject: string, signal: AbortSignal): Promise<{ messageId: string }> {
    signal.throwIfAborted();
    this.calls++;
    if (this.calls % 3 === 1) throw new Error('503 Service Unavailable from mail provider');
    return { messageId: `msg-${this.calls}-${to.split('@')[0]}-${subject.length}` };
  }
}

/** A stand-in for a supplier API that times out on page 3 the first time it is asked. */
export class SupplierApi {
  private failedOnce = false;
  async page(n: number): Promise<{ sku: string; stock: number }[]> {
    if (n === 3 && !this.failedOnce) {
      this.failedOnce = true;
      throw new Error('supplier API timed out on page 3');
    }
    return Array.from({ length: 5 }, (_, i) => ({ sku: `SKU-${n}-${i}`, stock: (n * 7 + i) % 11 }));
  }
}

export interface Resources {
  mail: FlakyMailProvider;
  supplier: SupplierApi;
}

export function defineTasks(baton: Baton) {
  const sendEmail = baton.task(
    {
      name: 'send-email',
      input: z.object({ to: z.string().email(), subject: z.string().min(1), body: z.string() }),
      retries: 3,
      retryDelay: '200ms',
      backoff: 2,
      timeout: '10s',
    },
    async (input, ctx) => {
      const { mail } = ctx.lifespan as Resources;
      if (input.to.endsWith('@example.invalid')) throw new NonRetryableError(`cannot deliver to ${input.to}`);
      await ctx.log(`attempt ${ctx.attemptNumber}: sending "${input.subject}" to ${input.to}`);
      const { messageId } = await mail.send(input.to, input.subject, ctx.signal);
      return { messageId, attempts: ctx.attemptNumber };
    },
  );

  const syncInventory = baton.task(
    { name: 'sync-inventory', retries: 2, retryDelay: '100ms' },
    async (input: { pages: number }, ctx) => {
      const { supplier } = ctx.lifespan as Resources;
      // A retry resumes where the failed attempt stopped, instead of starting over.
      const saved = await ctx.checkpoint.load<{ nextPage: number; synced: number }>();
      let { nextPage, synced } = saved ?? { nextPage: 1, synced: 0 };
      if (ctx.attempt > 0)
        await ctx.log(`retry ${ctx.retryCount}: resuming at page ${nextPage} (${synced} items already synced)`);
      for (; nextPage <= input.pages; nextPage++) {
        const items = await supplier.page(nextPage);
        synced += items.length;
        await ctx.checkpoint.save({ nextPage: nextPage + 1, synced });
        await ctx.progress(nextPage / input.pages, `page ${nextPage} of ${input.pages}`);
      }
      return { synced, resumedOnAttempt: ctx.attempt };
    },
  );

  const regionReport = baton.task({ name: 'region-report' }, async (input: { region: string }, ctx) => {
    await ctx.log(`building ${input.region} section for ${ctx.tags.team} (${ctx.customContext.section})`);
    return { region: input.region, orders: input.region.length * 42 };
  });

  const weeklyReport = baton.task({ name: 'weekly-report' }, async (input: { regions: string[] }) => {
    // Each region is a child run; it inherits this run's tags and gets its own custom context.
    const handles = await Promise.all(
      input.regions.map((region, i) => withCustomContext({ section: String(i + 1) }, () => regionReport.enqueue({ region }))),
    );
    const sections = await Promise.all(handles.map((h) => h.result()));
    return { title: reportTitle(), sections };
  });

  return { sendEmail, syncInventory, regionReport, weeklyReport };
}

/** A helper deep in the call stack: it reads the run's tags without being passed the context. */
function reportTitle(): string {
  const ctx = getRunContext();
  void taskLog('titling the report from its tags');
  return `Weekly report for team ${ctx.tags.team ?? 'unknown'}, ${ctx.tags.period ?? 'this week'}`;
}
