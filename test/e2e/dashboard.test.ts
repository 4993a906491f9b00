/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core,
 * never a downloaded one) against a real server on SQLite: log in with a token,
 * start a workflow from the UI, watch it complete live, open its DAG, read a
 * log line, cancel a running task, switch theme, and save screenshots.
 * Without /usr/bin/chromium the test is skipped loudly (CI installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baton, type TaskContext } from 'baton';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const hasChromium = existsSync(CHROMIUM);
const isDashboardBuilt = existsSync(join(process.cwd(), 'dist', 'dashboard', 'index.html'));
if (!hasChromium || !isDashboardBuilt) {
  const why = hasChromium
    ? 'the dashboard is not built (npm run build:dashboard)'
    : `${CHROMIUM} is missing (apt-get install chromium)`;
  if (process.env.CI) throw new Error(`the dashboard browser test cannot run: ${why}`);
  console.warn(`\n⚠ the dashboard browser test is SKIPPED: ${why}\n`);
}

describe.skipIf(!hasChromium || !isDashboardBuilt)('dashboard in Chromium', () => {
  let dir: string;
  let baton: Baton;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let token: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-dashboard-'));
    mkdirSync(SHOTS, { recursive: true });
    baton = new Baton({ database: join(dir, 'baton.db'), logLevel: 'silent' });
    const pipeline = baton.workflow({ name: 'order-pipeline' });
    const validate = pipeline.task({ name: 'validate' }, async (_: unknown, ctx: TaskContext) => {
      await ctx.log('order looks valid');
      return { ok: true };
    });
    const charge = pipeline.task({ name: 'charge', parents: [validate] }, async (_: unknown, ctx: TaskContext) => {
      await ctx.log('charged card ending 4242');
      return { charged: 42 };
    });
    pipeline.task({ name: 'ship', parents: [charge] }, async (_: unknown, ctx: TaskContext) => {
      await ctx.log('label printed');
      return { shipped: true };
    });
    const slow = baton.task({ name: 'slow-report' }, async (_: unknown, ctx: TaskContext) => {
      await ctx.log('crunching numbers');
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    });
    const worker = baton.worker({
      name: 'dashboard-worker',
      slots: 4,
      pollInterval: '20ms',
      shutdownTimeout: '200ms',
      tasks: [pipeline, slow],
    });
    await worker.start();
    token = (await baton.tokens.create({ name: 'e2e' })).token;
    server = await baton.serve({ port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    page.setDefaultTimeout(15_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await baton?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, starts a workflow, watches it complete, opens the DAG, reads a log line, cancels a running task', async () => {
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await page.goto(`${server.url}/`);
    await page.getByTestId('login-token').fill('baton_wrong');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').isVisible()).toBe(true);
    await page.getByTestId('login-token').fill(token);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('start-run').waitFor();

    await page.getByTestId('start-run').click();
    await page.getByTestId('start-run-target').selectOption('workflow:order-pipeline');
    await page.getByTestId('start-run-input').fill('{"order": 7}');
    await page.getByTestId('start-run-submit').click();
    await page.getByTestId('run-state').waitFor();
    await expect.poll(() => page.getByTestId('run-state').getAttribute('data-state-name'), { timeout: 20_000 }).toBe('Completed');

    await page.getByTestId('tab-dag').click();
    await page.getByTestId('dag').waitFor();
    expect(await page.getByTestId('dag-node').count()).toBe(3);
    await page.screenshot({ path: join(SHOTS, 'run-dag.png') });

    await page.locator('[data-testid="dag-node"][data-task="charge"]').click();
    await page.getByTestId('tab-logs').click();
    await expect.poll(() => page.getByTestId('log-line').first().textContent()).toContain('charged card ending 4242');

    const slow = await baton.runs.list({ task: 'slow-report' });
    expect(slow.items).toHaveLength(0);
    const handle = await await baton.runs.get(
      (
        (await (
          await fetch(`${server.url}/api/v1/runs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ task: 'slow-report' }),
          })
        ).json()) as { id: string }
      ).id,
    );
    await page.goto(`${server.url}/#/runs/${handle.id}`);
    await expect.poll(() => page.getByTestId('run-state').getAttribute('data-state-name')).toBe('Running');
    await page.getByTestId('action-cancel').click();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.getByTestId('run-state').getAttribute('data-state-name')).toBe('Cancelled');
    expect((await handle.state()).name).toBe('Cancelled');

    await page.goto(`${server.url}/`);
    await page.getByTestId('run-row').first().waitFor();
    expect(await page.getByTestId('run-row').count()).toBeGreaterThanOrEqual(5);
    await page.screenshot({ path: join(SHOTS, 'runs-light.png') });
    await page.getByTestId('theme-toggle').click();
    await page.screenshot({ path: join(SHOTS, 'runs-dark.png') });
    expect(cspViolations).toEqual([]);
  }, 90_000);

  it('renders payload text as text: no script in an input runs', async () => {
    const alerts: string[] = [];
    page.on('dialog', (dialog) => {
      alerts.push(dialog.message());
      void dialog.dismiss();
    });
    const response = await fetch(`${server.url}/api/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        workflow: 'order-pipeline',
        input: { note: '<img src=x onerror=alert(1)><script>alert(2)</script>' },
      }),
    });
    const { id } = (await response.json()) as { id: string };
    await page.goto(`${server.url}/#/runs/${id}`);
    await page.getByTestId('tab-input').click();
    await expect.poll(() => page.content()).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(alerts).toEqual([]);
  }, 30_000);
});
