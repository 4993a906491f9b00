/** `baton workers`: the namespace's workers, live or stopped, with their slots in use and tasks. */
import type { Command } from 'commander';
import { listWorkerSummaries } from '../../api/worker-list.js';
import { addGlobalOptions, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatPairs, formatTime, printJson, printTable } from '../output.js';

export function registerWorkersCommand(program: Command): void {
  const command = program
    .command('workers')
    .description('list workers: name, host, whether live, slots in use / total, tasks')
    .option('--live', 'only live workers (heartbeating within their lease)')
    .addHelpText('after', '\nWith --json, prints { items: Worker[] } as GET /api/v1/workers does.');
  addGlobalOptions(command).action(async (options: GlobalOptions & { live?: boolean }, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const items = (await listWorkerSummaries(await baton.store(), baton.namespace)).filter((w) => !options.live || w.live);
      if (globals.json) {
        printJson({ items });
        return;
      }
      printTable(
        ['NAME', 'HOST', 'LIVE', 'SLOTS', 'TASKS', 'LABELS', 'HEARTBEAT'],
        items.map((w) => [
          w.name,
          `${w.host}:${w.pid}`,
          w.live ? 'yes' : 'no',
          `${w.slotsInUse}/${w.slots}`,
          w.taskNames.join(',') || '-',
          formatPairs(w.labels),
          formatTime(w.heartbeatAt),
        ]),
        options.live ? 'no live workers' : 'no workers have registered in this namespace',
      );
    });
  });
}
