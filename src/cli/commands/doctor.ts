/**
 * `baton doctor`: checks what Baton needs here — settings, the database
 * reachable, its migrations applied, the clock agreeing with PostgreSQL's, live
 * workers, the dashboard built — and says how to fix what is not. Changes
 * nothing (no file is created, no migration applied). Exit 1 when a check fails.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { type DatabaseReport, inspectDatabase } from '../../store/open-store.js';
import {
  addGlobalOptions,
  EXIT,
  type GlobalOptions,
  globalOptions,
  resolveTarget,
  type StoreTarget,
  withBaton,
} from '../context.js';
import { formatElapsed, print, printJson } from '../output.js';

type Status = 'ok' | 'warn' | 'fail';

interface Check {
  name: string;
  status: Status;
  message: string;
  fix?: string;
}

const MAX_SKEW_MS = 1_000;
/** The dashboard build, beside the package's dist (the same place src/http/dashboard.ts serves from). */
const DASHBOARD_INDEX = fileURLToPath(new URL('../../../dist/dashboard/index.html', import.meta.url));

export function registerDoctorCommand(program: Command): void {
  const command = program
    .command('doctor')
    .description('check the database, migrations, clock skew, workers and dashboard, and say how to fix problems')
    .addHelpText(
      'after',
      "\nExit 1 when a check fails (warnings don't). With --json, prints { ok, checks: [{ name, status, message, fix? }] }.",
    );
  addGlobalOptions(command).action(async (_options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    const checks = await runChecks(globals);
    const isOk = checks.every((c) => c.status !== 'fail');
    if (globals.json) printJson({ ok: isOk, checks });
    else {
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const check of checks) {
        print(`${check.status.padEnd(4)}  ${check.name.padEnd(width)}  ${check.message}`);
        if (check.fix && check.status !== 'ok') print(`${' '.repeat(width + 8)}fix: ${check.fix}`);
      }
    }
    process.exitCode = isOk ? EXIT.ok : EXIT.failed;
  });
}

async function runChecks(globals: GlobalOptions): Promise<Check[]> {
  const checks: Check[] = [];
  let target: StoreTarget;
  try {
    target = resolveTarget(globals);
    checks.push({ name: 'settings', status: 'ok', message: `namespace "${target.namespace}", database ${target.describe}` });
  } catch (error) {
    checks.push({
      name: 'settings',
      status: 'fail',
      message: (error as Error).message,
      fix: 'correct the named key in baton.config.json, the profiles file or the BATON_* variable',
    });
    return [...checks, dashboardCheck()];
  }
  let report: DatabaseReport | undefined;
  try {
    report = await inspectDatabase(target.location, { schema: target.schema });
  } catch (error) {
    checks.push({
      name: 'database',
      status: 'fail',
      message: `cannot reach ${target.describe}: ${(error as Error).message}`,
      fix:
        target.location.kind === 'postgres'
          ? 'check --database / BATON_DATABASE_URL, that PostgreSQL runs and accepts this user, and the network'
          : 'check --database / BATON_DATABASE_URL and the permissions of the file and its folder',
    });
  }
  if (report && !report.exists) {
    checks.push({
      name: 'database',
      status: 'warn',
      message: `no database at ${target.location.target} yet`,
      fix: 'it is created on first use; `baton migrate` creates it now (or point --database at the right file)',
    });
  } else if (report) {
    checks.push({ name: 'database', status: 'ok', message: `${target.describe} is reachable` });
    const migrations = migrationsCheck(report);
    checks.push(migrations, clockCheck(report, target));
    // Listing workers opens the store, which would apply pending migrations: the doctor changes nothing.
    checks.push(
      migrations.status === 'ok'
        ? await workersCheck(globals, target)
        : { name: 'workers', status: 'warn', message: 'not checked until the migrations are applied' },
    );
  }
  checks.push(dashboardCheck());
  return checks;
}

function migrationsCheck(report: DatabaseReport): Check {
  const applied = new Map(report.applied.map((m) => [m.id, m.checksum]));
  const changed = report.known.filter((m) => applied.has(m.id) && applied.get(m.id) !== m.checksum);
  if (changed.length > 0) {
    return {
      name: 'migrations',
      status: 'fail',
      message: `migration ${changed.map((m) => `${m.id}_${m.name}`).join(', ')} differs from the one applied`,
      fix: 'use the Baton version that applied it; released migrations are never edited',
    };
  }
  const knownIds = new Set(report.known.map((m) => m.id));
  const newer = report.applied.filter((m) => !knownIds.has(m.id));
  if (newer.length > 0) {
    return {
      name: 'migrations',
      status: 'fail',
      message: `the database has ${newer.length} migration(s) newer than this Baton (up to ${Math.max(...newer.map((m) => m.id))})`,
      fix: 'upgrade Baton here to the version the other processes run',
    };
  }
  const pending = report.known.filter((m) => !applied.has(m.id));
  if (pending.length > 0) {
    return {
      name: 'migrations',
      status: 'warn',
      message: `${pending.length} of ${report.known.length} pending (${pending.map((m) => `${m.id}_${m.name}`).join(', ')})`,
      fix: 'baton migrate (opening a Baton applies them too)',
    };
  }
  return { name: 'migrations', status: 'ok', message: `all ${report.known.length} applied` };
}

function clockCheck(report: DatabaseReport, target: StoreTarget): Check {
  if (target.location.kind === 'sqlite' || report.clockSkewMs === undefined) {
    return { name: 'clock', status: 'ok', message: "SQLite uses this machine's clock" };
  }
  const skew = Math.round(report.clockSkewMs);
  const error = Math.ceil((report.roundTripMs ?? 0) / 2);
  const where = skew > 0 ? 'behind' : 'ahead of';
  const text =
    Math.abs(skew) <= error
      ? `this machine's clock agrees with PostgreSQL's (±${error} ms)`
      : `this machine's clock is ${formatElapsed(Math.abs(skew))} ${where} PostgreSQL's (±${error} ms)`;
  if (Math.abs(skew) - error > MAX_SKEW_MS) {
    return {
      name: 'clock',
      status: 'warn',
      message: text,
      fix: 'sync this machine with NTP (leases use the database clock, but logs and ids use this one)',
    };
  }
  return { name: 'clock', status: 'ok', message: text };
}

async function workersCheck(globals: GlobalOptions, target: StoreTarget): Promise<Check> {
  try {
    const live = await withBaton(globals, async (baton) =>
      (await baton.store()).listWorkers(baton.namespace, { liveOnly: true }),
    );
    if (live.length === 0) {
      return {
        name: 'workers',
        status: 'warn',
        message: `no live worker in namespace "${target.namespace}": runs will wait`,
        fix: 'start one: baton worker <entry> (or baton dev <entry>)',
      };
    }
    const names = live.map((w) => w.name);
    return {
      name: 'workers',
      status: 'ok',
      message: `${live.length} live: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`,
    };
  } catch (error) {
    return { name: 'workers', status: 'fail', message: `cannot list workers: ${(error as Error).message}` };
  }
}

function dashboardCheck(): Check {
  return existsSync(DASHBOARD_INDEX)
    ? { name: 'dashboard', status: 'ok', message: 'built (dist/dashboard)' }
    : {
        name: 'dashboard',
        status: 'warn',
        message: 'not built: baton serve answers the API, but the dashboard page says it is missing',
        fix: 'npm run build:dashboard',
      };
}
