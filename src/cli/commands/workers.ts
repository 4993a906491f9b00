/** `baton workers`: the namespace's workers, live or stopped, with their slots in use and tasks. */
import type { Command } from 'commander';
import { LEASED_STATES } from '../../engine/states.js';
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
      const store = await baton.store();
      const [all, live, running] = await Promise.all([
        store.listWorkers(baton.namespace),
        store.listWorkers(baton.namespace, { liveOnly: true }),
        store.listRuns({ namespace: baton.namespace, statuses: LEASED_STATES, limit: 1000 }),
      ]);
      const liveIds = new Set(live.map((w) => w.id));
      const busy = new Map<string, number>();
      for (const run of running.items) if (run.leaseOwner) busy.set(run.leaseOwner, (busy.get(run.leaseOwner) ?? 0) + 1);
      const items = all
        .filter((w) => !options.live || liveIds.has(w.id))
        .map((w) => ({
          id: w.id,
          name: w.name,
          labels: w.labels,
          slots: w.slots,
          slotsInUse: busy.get(w.id) ?? 0,
          taskNames: w.taskNames.filter((t) => !t.startsWith('~')),
          host: w.host,
          pid: w.pid,
          startedAt: new Date(w.startedAt),
          heartbeatAt: new Date(w.heartbeatAt),
          ...(w.stoppedAt === null ? {} : { stoppedAt: new Date(w.stoppedAt) }),
          live: liveIds.has(w.id),
        }));
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
