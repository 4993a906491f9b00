/**
 * `baton run <task>`: starts a run of a registered task or workflow by name
 * (the task registry written by workers), then waits for it to end unless
 * `--detach`. Exit 0 when it completed, 1 when it failed (or outlived
 * `--timeout`), 2 for an unknown name or bad input, 3 when the store is
 * unreachable.
 */
import type { Command } from 'commander';
import type { Baton } from '../../api/baton.js';
import type { EnqueueOptions } from '../../api/enqueue.js';
import type { RunHandle } from '../../api/run-handle.js';
import { startByName } from '../../api/start-by-name.js';
import { STATE_TYPE } from '../../engine/states.js';
import type { JsonValue, State } from '../../engine/types.js';
import { stateView } from '../../http/views.js';
import { collect, durationArgument, integerArgument, jsonArgument, jsonObjectArgument, pairsArgument } from '../arguments.js';
import { addGlobalOptions, CliError, EXIT, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatBlock, formatElapsed, note, printJson, Spinner } from '../output.js';

interface RunOptions extends GlobalOptions {
  input?: string;
  workflow?: boolean;
  detach?: boolean;
  tag?: string[];
  metadata?: string;
  priority?: string;
  idempotencyKey?: string;
  delay?: string;
  timeout?: string;
}

export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .argument('<name>', 'the task (or with --workflow, the workflow) to run, as a worker registered it')
    .description('start a run of a task or workflow by name and wait for its output')
    .option('-i, --input <json>', 'the input: JSON, @file or @- for standard input (default: none)')
    .option('-w, --workflow', 'the name is a workflow')
    .option('-d, --detach', 'print the run id and exit without waiting')
    .option('-t, --tag <key=value>', 'a tag (repeatable)', collect)
    .option('--metadata <json>', 'metadata as a JSON object (or @file)')
    .option('--priority <1-4>', 'priority, 1 (low) to 4 (high)')
    .option('--idempotency-key <key>', 'a second run with the same key returns the first run')
    .option('--delay <duration>', 'start no earlier than this from now (e.g. 30s, 5m)')
    .option('--timeout <duration>', 'stop waiting after this long (the run keeps going; exit 1)')
    .addHelpText(
      'after',
      `
With --json, prints { id, state, output } (state is the State object of the HTTP API).
Exit codes: 0 completed, 1 failed / timed out / crashed / cancelled (or --timeout passed),
2 unknown task or bad input, 3 store unreachable.

Examples:
  baton run send-email --input '{"to":"ada@example.com"}'
  baton run nightly-report --workflow --input @input.json --tag team=data --detach`,
    );
  addGlobalOptions(command).action(async (name: string, options: RunOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    // Everything the user typed is checked before the store is touched.
    const input = options.input === undefined ? undefined : jsonArgument(options.input, '--input');
    const enqueue = enqueueOptions(options);
    const timeoutMs = options.timeout === undefined ? undefined : durationArgument(options.timeout, '--timeout');
    process.exitCode = await withBaton(globals, async (baton) => {
      const api = baton.namespaceApi();
      const kind = options.workflow ? 'workflow' : 'task';
      const started = await startByName(api.runtime, { kind, name, input, options: enqueue }, (n) => api.localTarget(n));
      const handle = await baton.runs.get(started.id);
      if (options.detach) {
        if (globals.json) printJson({ id: handle.id, outcome: started.outcome, state: stateView(await handle.state()) });
        else {
          process.stdout.write(`${handle.id}\n`);
          note(`started ${kind} "${name}" as run ${handle.id}${started.outcome === 'created' ? '' : ` (${started.outcome})`}`);
        }
        return EXIT.ok;
      }
      return waitAndReport(baton, handle, { json: globals.json === true, timeoutMs, label: `${kind} "${name}"` });
    });
  });
}

function enqueueOptions(options: RunOptions): EnqueueOptions {
  const out: EnqueueOptions = {};
  const tags = pairsArgument(options.tag, '--tag');
  if (tags) out.tags = tags;
  if (options.metadata !== undefined) {
    out.metadata = jsonObjectArgument(options.metadata, '--metadata') as Record<string, JsonValue>;
  }
  if (options.priority !== undefined) out.priority = integerArgument(options.priority, '--priority', 1, 4);
  if (options.idempotencyKey !== undefined) out.idempotencyKey = options.idempotencyKey;
  if (options.delay !== undefined) out.delay = durationArgument(options.delay, '--delay');
  return out;
}

/** Waits for the run (a spinner on a terminal), prints the outcome, returns the exit code. */
async function waitAndReport(
  baton: Baton,
  handle: RunHandle,
  options: { json: boolean; timeoutMs: number | undefined; label: string },
): Promise<number> {
  const started = performance.now();
  const initial = await handle.state();
  if (initial.waitingOn?.reason === 'no-worker') {
    note(`${initial.waitingOn.message}; waiting (Ctrl-C stops waiting, the run stays queued)`);
  }
  const spinner = new Spinner();
  spinner.start(`run ${handle.id} of ${options.label}: waiting`);
  const describe = spinner.isEnabled ? setInterval(() => void describeWait(baton, handle, spinner), 500) : undefined;
  const interrupted = () => {
    spinner.stop();
    note(`stopped waiting; run ${handle.id} goes on (follow it: baton runs show ${handle.id})`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  let state: State;
  try {
    await handle.result(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }).catch((error: unknown) => {
      // A failed run is reported from its state below; a wait that timed out is not an end.
      if (options.timeoutMs !== undefined && /did not end within/.test((error as Error).message)) {
        throw new CliError(
          `run ${handle.id} did not end within ${formatElapsed(options.timeoutMs)}; it goes on (follow it: baton runs show ${handle.id})`,
          EXIT.failed,
        );
      }
      if ((error as { code?: string }).code !== 'BATON_RUN_FAILED') throw error;
    });
    state = await handle.state();
  } finally {
    clearInterval(describe);
    process.removeListener('SIGINT', interrupted);
    spinner.stop();
  }
  const isCompleted = STATE_TYPE[state.name] === 'COMPLETED';
  const elapsed = formatElapsed(performance.now() - started);
  if (options.json) printJson({ id: handle.id, state: stateView(state), output: isCompleted ? state.output : null });
  else if (isCompleted) {
    if (state.output !== undefined) process.stdout.write(`${formatBlock(state.output)}\n`);
    note(`run ${handle.id} ${state.name} (${elapsed})`);
  } else {
    const why = state.error ? `: ${state.error.name}: ${state.error.message}` : state.message ? `: ${state.message}` : '';
    note(`run ${handle.id} ended ${state.name}${why} (${elapsed}; details: baton runs show ${handle.id})`);
  }
  return isCompleted ? EXIT.ok : EXIT.failed;
}

/** The spinner's text: the run's state, progress, and why it waits. */
async function describeWait(baton: Baton, handle: RunHandle, spinner: Spinner): Promise<void> {
  try {
    const state = await handle.state();
    const run = await (await baton.store()).getRun(baton.namespace, handle.id);
    const progress = run?.progress === null || run?.progress === undefined ? '' : ` ${Math.round(run.progress * 100)}%`;
    const message = run?.progressMessage ? ` ${run.progressMessage}` : '';
    const waiting = state.waitingOn ? ` — ${state.waitingOn.message}` : '';
    spinner.update(`run ${handle.id}: ${state.name}${progress}${message}${waiting}`);
  } catch {
    // The spinner's text is a nicety; the wait itself reports errors.
  }
}
