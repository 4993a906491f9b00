/**
 * `baton runs list | show | cancel | retry | resume | replay` (and, from
 * ./runs-follow.ts, `logs` and `stream`): runs as the HTTP API shows them.
 */
import type { Command } from 'commander';
import type { RunListFilter } from '../../api/runs.js';
import { runDetail } from '../../http/routes-runs.js';
import { stateView, summaryView } from '../../http/views.js';
import { collect, integerArgument, pairsArgument } from '../arguments.js';
import { addGlobalOptions, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatPairs, formatTime, note, print, printJson, printTable } from '../output.js';
import { registerFollowCommands } from './runs-follow.js';
import { printRunDetail } from './runs-show.js';

interface ListOptions extends GlobalOptions {
  status?: string[];
  task?: string;
  tag?: string[];
  parent?: string;
  limit?: string;
  cursor?: string;
}

export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('list, inspect, follow and act on runs');
  registerList(runs);
  registerShow(runs);
  registerFollowCommands(runs);
  registerCancel(runs);
  registerRetry(
    runs,
    'retry',
    'give a Failed, TimedOut, Crashed or Cancelled run a new attempt (same run id; a durable run keeps its recorded steps)',
  );
  registerRetry(
    runs,
    'resume',
    'resume a Failed, TimedOut, Crashed or Cancelled durable run from its recorded steps (an alias of `runs retry`)',
  );
  registerReplay(runs);
}

function registerList(runs: Command): void {
  const command = runs
    .command('list')
    .description('list runs, newest first')
    .option('-s, --status <state>', 'a state name (Failed) or type (FAILED); repeatable', collect)
    .option('--task <name>', 'runs of this task or workflow')
    .option('-t, --tag <key=value>', 'runs with this tag; repeatable', collect)
    .option('--parent <id>', 'children of this run')
    .option('-n, --limit <n>', 'runs per page, 1 to 1000 (default 50)')
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .addHelpText('after', '\nWith --json, prints { items: RunSummary[], nextCursor? } as GET /api/v1/runs does.');
  addGlobalOptions(command).action(async (options: ListOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    const filter: RunListFilter = {};
    if (options.status) filter.status = options.status.flatMap((s) => s.split(',')) as RunListFilter['status'];
    if (options.task !== undefined) filter.task = options.task;
    const tags = pairsArgument(options.tag, '--tag');
    if (tags) filter.tags = tags;
    if (options.parent !== undefined) filter.parentRunId = options.parent;
    if (options.limit !== undefined) filter.limit = integerArgument(options.limit, '--limit', 1, 1000);
    if (options.cursor !== undefined) filter.cursor = options.cursor;
    await withBaton(globals, async (baton) => {
      const list = await baton.runs.list(filter);
      if (globals.json) {
        printJson({ items: list.items.map(summaryView), ...(list.nextCursor ? { nextCursor: list.nextCursor } : {}) });
        return;
      }
      printTable(
        ['ID', 'TASK', 'STATE', 'ATTEMPT', 'CREATED', 'TAGS'],
        list.items.map((run) => [
          run.id,
          run.taskName === run.workflowName ? run.taskName : `${run.workflowName}/${run.taskName}`,
          run.state.name,
          String(run.attempt),
          formatTime(run.createdAt),
          formatPairs(run.tags),
        ]),
        'no runs match',
      );
      if (list.nextCursor) note(`more: baton runs list --cursor ${list.nextCursor}`);
    });
  });
}

function registerShow(runs: Command): void {
  const command = runs
    .command('show')
    .argument('<id>', 'the run id')
    .description('a run: its state and why it waits, input, output, error, states, attempts, steps, DAG and children')
    .addHelpText('after', '\nWith --json, prints the Run object of GET /api/v1/runs/:id.');
  addGlobalOptions(command).action(async (id: string, _options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const detail = await runDetail(baton.namespaceApi(), id);
      if (globals.json) printJson(detail);
      else printRunDetail(detail);
    });
  });
}

function registerCancel(runs: Command): void {
  const command = runs
    .command('cancel')
    .argument('<id>', 'the run id')
    .description('cancel a run and its children: a queued run ends Cancelled at once, a running one is signalled')
    .option('--reason <text>', 'recorded with the cancellation', 'cancelled from the CLI');
  addGlobalOptions(command).action(async (id: string, options: GlobalOptions & { reason: string }, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const handle = await baton.runs.get(id);
      await handle.cancel(options.reason);
      const state = await handle.state();
      if (globals.json) printJson({ id, state: stateView(state) });
      else print(`run ${id}: ${state.name === 'Cancelled' ? 'cancelled' : `cancellation requested (${state.name})`}`);
    });
  });
}

function registerRetry(runs: Command, name: 'retry' | 'resume', description: string): void {
  const command = runs.command(name).argument('<id>', 'the run id').description(description);
  addGlobalOptions(command).action(async (id: string, _options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const handle = await (await baton.runs.get(id)).retry();
      const state = await handle.state();
      if (globals.json) printJson({ id, state: stateView(state) });
      else print(`run ${id}: ${name === 'resume' ? 'resuming' : 'retrying'} (${state.name}, attempt ${state.attempt ?? '-'})`);
    });
  });
}

function registerReplay(runs: Command): void {
  const command = runs
    .command('replay')
    .argument('<id>', 'the run id')
    .description('start a new run of the same task or workflow with the same input, tags and metadata');
  addGlobalOptions(command).action(async (id: string, _options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const replayed = await (await baton.runs.get(id)).replay();
      if (globals.json) printJson({ id: replayed.id, sourceRunId: id, state: stateView(await replayed.state()) });
      else {
        process.stdout.write(`${replayed.id}\n`);
        note(`replayed run ${id} as run ${replayed.id}`);
      }
    });
  });
}
