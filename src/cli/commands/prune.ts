/**
 * `baton prune --older-than 30d [--dry-run]`: retention (DESIGN.md §4). Deletes
 * the namespace's runs that ended before the cutoff, with their states, logs,
 * attempts, stream chunks, steps and children; a workflow run goes as a whole;
 * runs that have not ended (and trees with such a run) are kept.
 */
import type { Command } from 'commander';
import { durationArgument, integerArgument } from '../arguments.js';
import { addGlobalOptions, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatTime, print, printJson } from '../output.js';

interface PruneCommandOptions extends GlobalOptions {
  olderThan: string;
  dryRun?: boolean;
  batch?: string;
}

export function registerPruneCommand(program: Command): void {
  const command = program
    .command('prune')
    .description('delete runs that ended more than a duration ago, with everything recorded for them')
    .requiredOption('--older-than <duration>', 'runs that ended longer ago than this (e.g. 30d, 12h; 0s = every ended run)')
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--batch <n>', 'root runs deleted per transaction (default 500)')
    .addHelpText(
      'after',
      `
Deleted with each run: its states, logs, attempts, stream chunks, durable steps and its
child runs; a workflow run goes with all its tasks. Runs still queued, running or waiting
(and any tree holding one) are kept. The cutoff is taken from the store's clock.
With --json, prints { count, finishedBefore, dryRun }.`,
    );
  addGlobalOptions(command).action(async (options: PruneCommandOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    const olderThanMs = durationArgument(options.olderThan, '--older-than');
    const batch = options.batch === undefined ? undefined : integerArgument(options.batch, '--batch', 1, 10_000);
    await withBaton(globals, async (baton) => {
      const store = await baton.store();
      const finishedBefore = (await store.now()) - olderThanMs;
      const count = await store.pruneRuns(baton.namespace, finishedBefore, {
        dryRun: options.dryRun === true,
        ...(batch === undefined ? {} : { batch }),
      });
      if (globals.json) printJson({ count, finishedBefore: new Date(finishedBefore), dryRun: options.dryRun === true });
      else {
        const what = `${count} run${count === 1 ? '' : 's'} that ended before ${formatTime(finishedBefore)}`;
        print(options.dryRun ? `would delete ${what} (dry run)` : `deleted ${what}`);
      }
    });
  });
}
