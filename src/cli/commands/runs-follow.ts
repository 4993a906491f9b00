/**
 * `baton runs logs <id> [--follow]` and `baton runs stream <id> [--follow]`:
 * what a run wrote so far, and with `--follow` what it writes next, until it
 * ends. A workflow run's logs are its tasks' logs. Following polls the store
 * (any process, either backend), backing off while nothing new arrives.
 */
import type { Command } from 'commander';
import type { Baton } from '../../api/baton.js';
import { toLogEntry } from '../../api/run-state.js';
import { deserialize } from '../../engine/serializer.js';
import { isTerminal } from '../../engine/states.js';
import type { LogEntry } from '../../engine/types.js';
import { RunNotFoundError } from '../../errors.js';
import { logView } from '../../http/views.js';
import type { RunRow, Store } from '../../store/types.js';
import { addGlobalOptions, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatTime, formatValue, printJson } from '../output.js';

const MIN_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

interface FollowOptions extends GlobalOptions {
  follow?: boolean;
}

export function registerFollowCommands(runs: Command): void {
  const logs = runs
    .command('logs')
    .argument('<id>', 'the run id (a workflow run shows its tasks’ logs)')
    .description("a run's log lines in write order; --follow prints new lines until the run ends")
    .option('-f, --follow', 'keep printing new lines until the run ends')
    .addHelpText(
      'after',
      '\nWith --json, prints { items: LogEntry[] } as GET /api/v1/runs/:id/logs does; with --follow, one LogEntry per line.',
    );
  addGlobalOptions(logs).action(async (id: string, options: FollowOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, (baton) => printLogs(baton, id, { follow: options.follow === true, json: globals.json === true }));
  });

  const stream = runs
    .command('stream')
    .argument('<id>', 'the run id')
    .description("a run's stream chunks in order; --follow prints new chunks until the run ends")
    .option('-f, --follow', 'keep printing new chunks until the run ends')
    .addHelpText('after', '\nWith --json, prints one { seq, data } per line (as the SSE messages of /runs/:id/stream).');
  addGlobalOptions(stream).action(async (id: string, options: FollowOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, (baton) => printStream(baton, id, { follow: options.follow === true, json: globals.json === true }));
  });
}

async function getRun(store: Store, baton: Baton, id: string): Promise<RunRow> {
  const run = await store.getRun(baton.namespace, id);
  if (!run) throw new RunNotFoundError(id);
  return run;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls `poll` until it reports the run ended (checked before reading, so nothing written before the end is missed). */
async function follow(baton: Baton, id: string, isFollowing: boolean, poll: () => Promise<number>): Promise<void> {
  const store = await baton.store();
  let wait = MIN_POLL_MS;
  for (;;) {
    const hasEnded = !isFollowing || isTerminal((await getRun(store, baton, id)).status);
    const found = await poll();
    if (hasEnded) return;
    wait = found > 0 ? MIN_POLL_MS : Math.min(MAX_POLL_MS, wait * 2);
    await sleep(wait);
  }
}

function logLine(entry: LogEntry, source: string | undefined): string {
  const hasFields = entry.fields !== undefined && Object.keys(entry.fields).length > 0;
  const fields = hasFields && entry.message !== JSON.stringify(entry.fields) ? ` ${formatValue(entry.fields)}` : '';
  return `${formatTime(entry.time)} ${entry.level.padEnd(5)} ${source ? `[${source}] ` : ''}${entry.message}${fields}`;
}

async function printLogs(baton: Baton, id: string, options: { follow: boolean; json: boolean }): Promise<void> {
  const store = await baton.store();
  const run = await getRun(store, baton, id);
  const printed = new Map<string, number>();
  const all: LogEntry[] = [];
  await follow(baton, id, options.follow, async () => {
    const sources = run.kind === 'workflow' ? [run, ...(await store.listWorkflowTasks(baton.namespace, id))] : [run];
    const fresh: { entry: LogEntry; source: string | undefined }[] = [];
    for (const source of sources) {
      const rows = await store.listLogs(source.id);
      const from = printed.get(source.id) ?? 0;
      printed.set(source.id, rows.length);
      for (const row of rows.slice(from)) {
        fresh.push({ entry: toLogEntry(row), source: run.kind === 'workflow' ? source.taskName : undefined });
      }
    }
    if (sources.length > 1) fresh.sort((a, b) => a.entry.time.getTime() - b.entry.time.getTime());
    for (const { entry, source } of fresh) {
      if (!options.json) process.stdout.write(`${logLine(entry, source)}\n`);
      else if (options.follow) printJson(source ? { ...logView(entry), task: source } : logView(entry), { pretty: false });
      else all.push(entry);
    }
    return fresh.length;
  });
  if (options.json && !options.follow) printJson({ items: all.map(logView) });
}

async function printStream(baton: Baton, id: string, options: { follow: boolean; json: boolean }): Promise<void> {
  const store = await baton.store();
  await getRun(store, baton, id);
  let seq = 0;
  await follow(baton, id, options.follow, async () => {
    let count = 0;
    for (;;) {
      const chunks = await store.readStream(id, seq, 500);
      for (const chunk of chunks) {
        seq = chunk.seq;
        const data = deserialize(chunk.data);
        if (options.json) printJson({ seq: chunk.seq, data }, { pretty: false });
        else process.stdout.write(`${formatValue(data)}\n`);
      }
      count += chunks.length;
      if (chunks.length < 500) return count;
    }
  });
}
