/**
 * The `baton` command line (bin/baton.js runs `main`). Builds the program from
 * the command groups in ./commands, parses argv, and turns whatever a command
 * throws into a message on stderr and an exit code (DESIGN.md §2.12): 0
 * success, 1 the run failed, 2 usage / malformed input / unknown task, 3 store
 * unreachable. Importing this module runs nothing.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDevCommands } from './commands/dev.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerEventsCommands } from './commands/events.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerRunCommand } from './commands/run.js';
import { registerRunsCommands } from './commands/runs.js';
import { registerSchedulesCommands } from './commands/schedules.js';
import { registerServeCommand } from './commands/serve.js';
import { registerTokensCommands } from './commands/tokens.js';
import { registerWorkerCommand } from './commands/worker.js';
import { registerWorkersCommand } from './commands/workers.js';
import { EXIT, reportError } from './context.js';

function version(): string {
  try {
    // The same relative path from src/cli and from dist/cli.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The `baton` program with every command registered. */
export function createProgram(): Command {
  const program = new Command('baton')
    .description('Baton: durable tasks and workflows. Run, inspect and operate them from the shell.')
    .version(version(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Every command takes --database, --schema, --namespace, --profile, --json and --verbose
after its name (see \`baton <command> --help\`).
Exit codes: 0 success, 1 the run failed, 2 usage / bad input / unknown task, 3 store unreachable.`,
    );
  registerRunCommand(program);
  registerRunsCommands(program);
  registerEventsCommands(program);
  registerSchedulesCommands(program);
  registerWorkersCommand(program);
  registerDevCommands(program);
  registerWorkerCommand(program);
  registerServeCommand(program);
  registerMigrateCommand(program);
  registerPruneCommand(program);
  registerTokensCommands(program);
  registerDoctorCommand(program);
  return program;
}

/** Runs the CLI on `argv` (as `process.argv`: node, script, then arguments); sets `process.exitCode`. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  // `baton runs list | head`: a closed pipe ends the output, not with a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    throw error;
  });
  const verbose = argv.includes('--verbose');
  let code: number;
  try {
    await createProgram().parseAsync([...argv]);
    code = typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; anything else commander refuses (unknown option or command, missing argument) is usage.
      code = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      code = reportError(error, { verbose });
    }
  }
  process.exitCode = code;
  return code;
}
