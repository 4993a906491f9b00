/** `baton schedules list | create | delete`: persisted crons and one-off schedules of registered tasks and workflows. */
import type { Command } from 'commander';
import { toScheduleInfo } from '../../api/schedules.js';
import { scheduleByName } from '../../api/start-by-name.js';
import type { MisfirePolicy, OverlapPolicy } from '../../store/types.js';
import { jsonArgument } from '../arguments.js';
import { addGlobalOptions, CliError, EXIT, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatTime, note, print, printJson, printTable } from '../output.js';

interface CreateOptions extends GlobalOptions {
  task?: string;
  workflow?: string;
  cron?: string;
  at?: string;
  timezone?: string;
  overlap?: string;
  misfire?: string;
  input?: string;
}

export function registerSchedulesCommands(program: Command): void {
  const schedules = program.command('schedules').description('list, create and delete schedules (crons and one-off runs)');

  const list = schedules
    .command('list')
    .description('list schedules with their next fire time')
    .addHelpText('after', '\nWith --json, prints { items: Schedule[] } as GET /api/v1/schedules does.');
  addGlobalOptions(list).action(async (_options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const items = await baton.schedules.list();
      if (globals.json) {
        printJson({ items });
        return;
      }
      printTable(
        ['ID', 'KIND', 'TARGET', 'WHEN', 'NEXT FIRE', 'LAST RUN', 'FROM'],
        items.map((s) => [
          s.id,
          s.kind,
          s.target,
          s.cron ? `${s.cron} (${s.timezone ?? 'UTC'})` : 'once',
          formatTime(s.nextFireAt),
          s.lastRunId ?? '-',
          s.fromCode ? 'code' : 'api',
        ]),
        'no schedules',
      );
    });
  });

  const create = schedules
    .command('create')
    .description('schedule a registered task or workflow: a cron, or one run at a time')
    .option('--task <name>', 'the task to run')
    .option('--workflow <name>', 'the workflow to run')
    .option('--cron <expression>', 'a cron expression (five fields, or six with seconds first)')
    .option('--timezone <zone>', 'time zone of the cron (default UTC)')
    .option('--at <time>', 'one run at this ISO-8601 time, instead of a cron')
    .option('--overlap <policy>', 'skip | queue | cancel-previous (default skip for crons)')
    .option('--misfire <policy>', 'run-once | skip, after downtime (default run-once)')
    .option('-i, --input <json>', 'the input of every run: JSON, @file or @-')
    .addHelpText(
      'after',
      `
Example:
  baton schedules create --workflow nightly-report --cron '0 3 * * *' --timezone Europe/Paris

With --json, prints the created Schedule.`,
    );
  addGlobalOptions(create).action(async (options: CreateOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    if ((options.task === undefined) === (options.workflow === undefined)) {
      throw new CliError('give exactly one of --task <name> and --workflow <name>', EXIT.usage);
    }
    if ((options.cron === undefined) === (options.at === undefined)) {
      throw new CliError('give exactly one of --cron <expression> and --at <time>', EXIT.usage);
    }
    if (options.at !== undefined && Number.isNaN(Date.parse(options.at))) {
      throw new CliError(`--at must be an ISO-8601 time such as 2030-01-01T09:00:00Z, got ${JSON.stringify(options.at)}`);
    }
    if (options.timezone !== undefined && options.cron === undefined) throw new CliError('--timezone goes with --cron');
    const overlap = oneOf(options.overlap, '--overlap', ['skip', 'queue', 'cancel-previous']) as OverlapPolicy | undefined;
    const misfire = oneOf(options.misfire, '--misfire', ['run-once', 'skip']) as MisfirePolicy | undefined;
    const input = options.input === undefined ? undefined : jsonArgument(options.input, '--input');
    await withBaton(globals, async (baton) => {
      const row = await scheduleByName(baton.namespaceApi().runtime, {
        kind: options.workflow !== undefined ? 'workflow' : 'task',
        name: (options.task ?? options.workflow) as string,
        ...(options.cron === undefined ? {} : { cron: options.cron }),
        ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
        ...(options.at === undefined ? {} : { at: Date.parse(options.at) }),
        ...(overlap === undefined ? {} : { overlap }),
        ...(misfire === undefined ? {} : { misfire }),
        input,
      });
      const info = toScheduleInfo(row);
      if (globals.json) printJson(info);
      else {
        process.stdout.write(`${info.id}\n`);
        note(`scheduled ${info.target}: next run at ${formatTime(info.nextFireAt)}`);
      }
    });
  });

  const remove = schedules
    .command('delete')
    .argument('<id>', 'the schedule id')
    .description('delete a schedule (a cron from code comes back when a worker serving it starts)');
  addGlobalOptions(remove).action(async (id: string, _options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      if (!(await baton.schedules.delete(id))) {
        throw new CliError(`no schedule with id ${id} in namespace "${baton.namespace}"`, EXIT.usage);
      }
      if (globals.json) printJson({ id, deleted: true });
      else print(`deleted schedule ${id}`);
    });
  });
}

function oneOf(value: string | undefined, what: string, allowed: string[]): string | undefined {
  if (value !== undefined && !allowed.includes(value)) {
    throw new CliError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, EXIT.usage);
  }
  return value;
}
