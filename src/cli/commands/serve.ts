/**
 * `baton serve`: the HTTP API and dashboard (`baton.serve`) on the store the global
 * options name, until SIGTERM or Ctrl-C. Every route needs a token unless `--no-auth`,
 * which only binds to a loopback address. Runs no worker.
 */
import type { Command } from 'commander';
import { ValidationError } from '../../errors.js';
import { loadSettings } from '../../settings/load-settings.js';
import { integerArgument } from '../arguments.js';
import { addGlobalOptions, CliError, EXIT, type GlobalOptions, globalOptions, inProfile, openBaton } from '../context.js';
import { note } from '../output.js';
import { exitSoon, printServing, stopSignal } from './worker.js';

interface ServeOptions {
  port?: string;
  host?: string;
  /** False with `--no-auth`. */
  auth: boolean;
}

export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('serve the HTTP API and dashboard until SIGTERM or Ctrl-C (no worker: see baton worker)')
    .option('--port <n>', 'port (default: BATON_HTTP_PORT, the profile, 8400; 0 picks a free one)')
    .option('--host <address>', 'address to bind (default: BATON_HTTP_HOST, the profile, 127.0.0.1)')
    .option('--no-auth', 'no token check: local development only, refused on a non-loopback host')
    .addHelpText(
      'after',
      `
Log in to the dashboard, or call the API, with a token of baton.tokens.create() (or BATON_TOKEN).`,
    );
  addGlobalOptions(command).action(async (options: ServeOptions, self: Command) => {
    await runServe(options, globalOptions(self));
  });
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function runServe(options: ServeOptions, globals: GlobalOptions): Promise<void> {
  const port = options.port === undefined ? undefined : portArgument(options.port);
  const host = options.host ?? inProfile(globals, () => loadSettings().settings.http.host);
  if (!options.auth && !LOOPBACK.has(host)) {
    throw new CliError(
      `--no-auth only binds to a loopback address (127.0.0.1, ::1, localhost), not "${host}": serve with a token instead`,
      EXIT.usage,
    );
  }
  const baton = await openBaton(globals);
  const stop = stopSignal('baton serve');
  try {
    const server = await baton
      .serve({ host, ...(port === undefined ? {} : { port }), auth: options.auth ? 'token' : 'none' })
      .catch((error: unknown) => {
        throw listenError(error, host, port);
      });
    const login = options.auth ? 'a token is needed to log in' : 'no login: this machine only';
    printServing(globals, { url: `${server.url}/` }, `baton serve: API and dashboard at ${server.url}/ (${login})`);
    const reason = await stop.reason;
    note(`baton serve: ${reason}: stopping`);
    await server.close();
  } finally {
    stop.dispose();
    await baton.close();
    exitSoon();
  }
}

/** A port from 0 (any free one) to 65535. */
export function portArgument(value: string): number {
  return integerArgument(value, '--port', 0, 65_535);
}

/** A port in use or an address that cannot be bound is a usage error (exit 2), said plainly. */
export function listenError(error: unknown, host: string, port: number | undefined): unknown {
  if (error instanceof ValidationError) return new CliError(error.message, EXIT.usage);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}${port === undefined ? '' : `:${port}`}`;
  if (code === 'EADDRINUSE') return new CliError(`cannot listen on ${where}: the port is in use (pick another with --port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND') {
    return new CliError(`cannot listen on ${where}: ${code} (check --host and --port)`);
  }
  return error;
}
