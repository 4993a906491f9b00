/**
 * What every `baton` command shares: the global options (`--database`,
 * `--schema`, `--namespace`, `--profile`, `--json`, `--verbose`), opening a
 * Baton from them (with the environment and the settings profile behind
 * them), the exit codes of DESIGN.md §2.12 and how an error becomes a message
 * on stderr and one of them. Commands live in ./commands; this owns no command.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { Baton } from '../api/baton.js';
import { type BatonOptions, resolveBatonOptions } from '../api/baton-options.js';
import { isBatonError, ValidationError } from '../errors.js';
import { HttpError } from '../http/errors.js';
import { useProfile } from '../settings/use-profile.js';
import { parseDatabase, redact, type StoreLocation } from '../store/open-store.js';

/** Exit codes (DESIGN.md §2.12). */
export const EXIT = {
  ok: 0,
  /** The run failed (or did not end within `--timeout`); a check failed; anything unexpected. */
  failed: 1,
  /** Usage, malformed input, unknown task, run or schedule, a run not in a state for the action. */
  usage: 2,
  /** The store is unreachable (or the database does not exist). */
  unreachable: 3,
} as const;

/** An error the CLI reports as it is (no stack trace), with its exit code. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.usage, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface GlobalOptions {
  database?: string;
  schema?: string;
  namespace?: string;
  profile?: string;
  json?: boolean;
  verbose?: boolean;
}

/**
 * Adds the global options to a command (each leaf command carries them, so they go after
 * the command name: `baton runs list --database …`). `namespace: false` leaves out
 * `--namespace` for a command that uses the name for something else (`tokens create`).
 */
export function addGlobalOptions(command: Command, options: { namespace?: boolean } = {}): Command {
  command
    .option('--database <url>', 'postgres://…, a SQLite file path or sqlite:path (default: BATON_DATABASE_URL, the profile)')
    .option('--schema <name>', 'PostgreSQL schema of Baton tables (default: BATON_SCHEMA, the profile, baton)');
  if (options.namespace !== false) {
    command.option('--namespace <name>', 'namespace (default: BATON_NAMESPACE, the profile, default)');
  }
  return command
    .option('--profile <name>', 'settings profile (default: BATON_PROFILE, the activeProfile of baton.config.json)')
    .option('--json', 'print JSON for scripts (ISO times, the HTTP API shapes)')
    .option('--verbose', 'debug logs, and stack traces with errors');
}

/** The global options as given to `command` (or one of its parents). */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Runs `fn` with the `--profile` settings profile active (when one was given). */
export function inProfile<T>(globals: GlobalOptions, fn: () => T): T {
  return globals.profile ? useProfile(globals.profile, fn) : fn();
}

export interface StoreTarget {
  database: string;
  schema: string;
  namespace: string;
  location: StoreLocation;
  /** The database for messages (a password hidden). */
  describe: string;
}

/** Where the global options, `BATON_*` variables and the profile point. */
export function resolveTarget(globals: GlobalOptions): StoreTarget {
  const resolved = inProfile(globals, () =>
    resolveBatonOptions({
      ...(globals.database === undefined ? {} : { database: globals.database }),
      ...(globals.schema === undefined ? {} : { schema: globals.schema }),
      ...(globals.namespace === undefined ? {} : { namespace: globals.namespace }),
    }),
  );
  const location = parseDatabase(resolved.database);
  const describe =
    location.kind === 'postgres' ? `${redact(resolved.database)} (schema ${resolved.schema})` : `SQLite ${location.target}`;
  return { database: resolved.database, schema: resolved.schema, namespace: resolved.namespace, location, describe };
}

export interface OpenOptions {
  /**
   * Refuse a SQLite file that does not exist yet (exit 3) instead of creating an empty
   * database, which is what a mistyped path would otherwise do. Default true.
   */
  mustExist?: boolean;
  /** More Baton options (they win over the global ones). */
  baton?: BatonOptions;
}

/** A Baton on the store the global options name, its store opened (and migrated); the caller closes it. */
export async function openBaton(globals: GlobalOptions, options: OpenOptions = {}): Promise<Baton> {
  const target = resolveTarget(globals);
  const { location } = target;
  if (
    options.mustExist !== false &&
    location.kind === 'sqlite' &&
    location.target !== ':memory:' &&
    !existsSync(location.target)
  ) {
    throw new CliError(
      `no Baton database at ${location.target}: pass --database or set BATON_DATABASE_URL (run \`baton migrate\` to create one there)`,
      EXIT.unreachable,
    );
  }
  const baton = inProfile(
    globals,
    () =>
      new Baton({
        database: target.database,
        schema: target.schema,
        namespace: target.namespace,
        logLevel: globals.verbose ? 'debug' : 'error',
        ...options.baton,
      }),
  );
  try {
    await baton.store();
  } catch (error) {
    await baton.close().catch(() => undefined);
    throw unreachable(error, target);
  }
  return baton;
}

/** Opens a Baton from the global options, runs `fn`, and closes it whatever happens. */
export async function withBaton<T>(globals: GlobalOptions, fn: (baton: Baton) => Promise<T>, options?: OpenOptions): Promise<T> {
  const baton = await openBaton(globals, options);
  try {
    return await fn(baton);
  } finally {
    await baton.close();
  }
}

/** An error opening the store as exit 3 (a bad setting stays exit 2). */
export function unreachable(error: unknown, target: Pick<StoreTarget, 'describe'>): unknown {
  if (error instanceof CliError || error instanceof ValidationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`cannot open the store at ${target.describe}: ${message}`, EXIT.unreachable, { cause: error });
}

const USAGE_CODES = new Set([
  'BATON_VALIDATION',
  'BATON_UNKNOWN_TASK',
  'BATON_RUN_NOT_FOUND',
  'BATON_INVALID_STATE',
  'BATON_IDEMPOTENCY_CONFLICT',
  'BATON_PAYLOAD_TOO_LARGE',
  'BATON_SERIALIZATION',
]);

/** The exit code for an error a command threw. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof HttpError) return error.status >= 400 && error.status < 500 ? EXIT.usage : EXIT.failed;
  if (isBatonError(error)) {
    if (error.code === 'BATON_STORAGE') return EXIT.unreachable;
    if (USAGE_CODES.has(error.code)) return EXIT.usage;
  }
  return EXIT.failed;
}

/** Writes the error to stderr (a stack trace only with `--verbose`) and returns its exit code. */
export function reportError(error: unknown, options: { verbose?: boolean } = {}): number {
  const code = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`error: ${message}`];
  if (error instanceof ValidationError) {
    for (const issue of error.issues) if (!message.includes(issue.message)) lines.push(`  ${issue.path}: ${issue.message}`);
  }
  if (options.verbose) {
    for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
      if (e.stack) lines.push(depth === 0 ? e.stack : `caused by: ${e.stack}`);
    }
  } else if (code === EXIT.failed && !(error instanceof CliError) && !isBatonError(error)) {
    lines.push('(run with --verbose for the stack trace)');
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  return code;
}
