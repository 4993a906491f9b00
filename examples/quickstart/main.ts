// The main job: a worker with the example tasks on embedded SQLite, a few runs,
// and a printout of what happened to each (states, attempts, logs, outputs).
import { Baton, type RunHandle } from 'baton';
import { defineTasks, FlakyMailProvider, type Resources, SupplierApi } from './tasks.js';

const baton = new Baton({ database: process.env.BATON_DATABASE_URL ?? './.baton/example.db', logLevel: 'warn' });
const { sendEmail, syncInventory, regionReport, weeklyReport } = defineTasks(baton);

const worker = baton.worker({
  name: 'example-worker',
  slots: 8,
  tasks: [sendEmail, syncInventory, regionReport, weeklyReport],
  lifespan: async function* (): AsyncGenerator<Resources> {
    console.log('lifespan: connecting to the mail provider and the supplier API');
    yield { mail: new FlakyMailProvider(), supplier: new SupplierApi() };
    console.log('lifespan: connections closed');
  },
});
await worker.start();

async function show(title: string, handle: RunHandle<unknown>): Promise<void> {
  let outcome: string;
  try {
    outcome = `output ${JSON.stringify(await handle.result())}`;
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  const states = (await handle.states()).map((s) => s.name).join(' → ');
  console.log(`\n▶ ${title}\n  states: ${states}\n  ${outcome}`);
  for (const line of await handle.logs()) console.log(`  log (attempt ${line.attempt}): ${line.message}`);
}

const email = await sendEmail.enqueue(
  { to: 'ada@example.com', subject: 'Your order shipped', body: 'It is on its way.' },
  { tags: { customer: 'ada' } },
);
const badEmail = await sendEmail.enqueue({ to: 'nobody@example.invalid', subject: 'Hello', body: '' });
const sync = await syncInventory.enqueue({ pages: 5 });
const report = await weeklyReport.enqueue(
  { regions: ['north', 'south', 'east'] },
  { tags: { team: 'growth', period: '2026-W47' } },
);

await show('send-email (a flaky provider: retried with backoff)', email);
await show('send-email to an invalid address (NonRetryableError: no retries)', badEmail);
await show('sync-inventory (attempt 1 fails on page 3; the retry resumes from its checkpoint)', sync);
await show('weekly-report (children per region; title from the run tags)', report);

try {
  await sendEmail.enqueue({ to: 'not-an-email', subject: '', body: 'x' });
} catch (error) {
  console.log(`\n▶ invalid input is refused before a run exists:\n  ${(error as Error).message}`);
}

const recent = await baton.runs.list({ limit: 20 });
console.log(`\n${recent.items.length} runs in the store (newest first):`);
for (const run of recent.items) console.log(`  ${run.id}  ${run.taskName.padEnd(15)} ${run.state.name}`);

// The dashboard on this database: the worker keeps serving until Ctrl-C.
if (process.env.BATON_EXAMPLE_SERVE === '0') {
  await baton.close();
} else {
  const server = await baton.serve({ auth: 'none' });
  console.log(`\nDashboard: ${server.url}/ (local only, no login) — Ctrl-C to stop`);
  process.once('SIGINT', () => void baton.close().then(() => process.exit(0)));
}
