/**
 * `baton migrate [--print-sql]`: applies Baton's schema migrations (what opening
 * a store does anyway; for deploy steps), or prints the PostgreSQL SQL for teams
 * that apply migrations themselves.
 */
import type { Command } from 'commander';
import { migrate } from '../../api/migrate.js';
import {
  addGlobalOptions,
  CliError,
  EXIT,
  type GlobalOptions,
  globalOptions,
  inProfile,
  resolveTarget,
  unreachable,
} from '../context.js';
import { print, printJson } from '../output.js';

export function registerMigrateCommand(program: Command): void {
  const command = program
    .command('migrate')
    .description('apply pending schema migrations (creates a SQLite file, or the PostgreSQL schema, when missing)')
    .option('--print-sql', 'print the SQL instead of applying it (PostgreSQL)')
    .addHelpText('after', '\nWith --json, prints { applied, database }. Safe to run from several processes at once.');
  addGlobalOptions(command, { namespace: false }).action(
    async (options: GlobalOptions & { printSql?: boolean }, cmd: Command) => {
      const globals = globalOptions(cmd);
      const target = resolveTarget(globals);
      if (options.printSql) {
        if (target.location.kind !== 'postgres') {
          throw new CliError(
            '--print-sql is for PostgreSQL; a SQLite file is migrated when it is opened (baton migrate)',
            EXIT.usage,
          );
        }
        const { migrationSql } = await import('../../store/postgres/migrate.js');
        process.stdout.write(migrationSql({ schema: target.schema }));
        return;
      }
      let applied: number;
      try {
        ({ applied } = await inProfile(globals, () => migrate({ database: target.database, schema: target.schema })));
      } catch (error) {
        throw unreachable(error, target);
      }
      if (globals.json) printJson({ applied, database: target.describe });
      else
        print(
          applied === 0
            ? `${target.describe}: up to date`
            : `${target.describe}: applied ${applied} migration${applied === 1 ? '' : 's'}`,
        );
    },
  );
}
