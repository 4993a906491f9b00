/** `baton tokens create | list | revoke`: API tokens for the HTTP API and dashboard (stored hashed; shown once). */
import type { Command } from 'commander';
import type { CreateTokenOptions } from '../../api/tokens.js';
import { collect } from '../arguments.js';
import { addGlobalOptions, CliError, EXIT, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatTime, note, print, printJson, printTable } from '../output.js';

interface CreateOptions extends Omit<GlobalOptions, 'namespace'> {
  namespace?: string[];
  scope?: string;
  name?: string;
}

export function registerTokensCommands(program: Command): void {
  const tokens = program.command('tokens').description('create, list and revoke API tokens');

  const create = tokens
    .command('create')
    .description('create a token; it is printed once (only its hash is stored)')
    .option('--namespace <name>', "a namespace it may see; repeatable, '*' = all (default: default)", collect)
    .option('--scope <scope>', 'read, or write (includes read)', 'write')
    .option('--name <label>', 'a label to recognise it by')
    .addHelpText('after', '\nWith --json, prints { id, token }.');
  addGlobalOptions(create, { namespace: false }).action(async (options: CreateOptions, cmd: Command) => {
    // --namespace names the token's namespaces here (tokens themselves belong to no namespace).
    const { namespace: _tokenNamespaces, ...globals } = globalOptions(cmd);
    if (options.scope !== 'read' && options.scope !== 'write') {
      throw new CliError(`--scope must be read or write, got ${JSON.stringify(options.scope)}`, EXIT.usage);
    }
    const request: CreateTokenOptions = { scope: options.scope };
    const namespaces = options.namespace?.flatMap((n) => n.split(',')).filter((n) => n !== '');
    if (namespaces && namespaces.length > 0) request.namespaces = namespaces;
    if (options.name !== undefined) request.name = options.name;
    await withBaton(globals, async (baton) => {
      const created = await baton.tokens.create(request);
      if (globals.json) printJson(created);
      else {
        process.stdout.write(`${created.token}\n`);
        note(
          `token ${created.id} (${request.scope}, namespaces ${(request.namespaces ?? ['default']).join(', ')}): store it now, it is not shown again`,
        );
      }
    });
  });

  const list = tokens
    .command('list')
    .description('list tokens (never their secret)')
    .addHelpText('after', '\nWith --json, prints { items: [{ id, name, namespaces, scope, createdAt, revokedAt? }] }.');
  addGlobalOptions(list, { namespace: false }).action(async (_options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      const items = await baton.tokens.list();
      if (globals.json) {
        printJson({ items });
        return;
      }
      printTable(
        ['ID', 'NAME', 'SCOPE', 'NAMESPACES', 'CREATED', 'REVOKED'],
        items.map((t) => [
          t.id,
          t.name ?? '-',
          t.scope,
          t.namespaces.join(','),
          formatTime(t.createdAt),
          formatTime(t.revokedAt),
        ]),
        'no tokens',
      );
    });
  });

  const revoke = tokens
    .command('revoke')
    .argument('<id>', 'the token id (from `baton tokens list`)')
    .description('revoke a token at once');
  addGlobalOptions(revoke, { namespace: false }).action(async (id: string, _options: GlobalOptions, cmd: Command) => {
    const globals = globalOptions(cmd);
    await withBaton(globals, async (baton) => {
      if (!(await baton.tokens.revoke(id))) throw new CliError(`no active token with id ${id}`, EXIT.usage);
      if (globals.json) printJson({ id, revoked: true });
      else print(`revoked token ${id}`);
    });
  });
}
