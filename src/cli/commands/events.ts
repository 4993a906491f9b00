/** `baton events push | list`: push an event (starting the workflows that listen on its key) and list events. */
import type { Command } from 'commander';
import type { JsonValue } from '../../engine/types.js';
import { integerArgument, jsonArgument, jsonObjectArgument } from '../arguments.js';
import { addGlobalOptions, type GlobalOptions, globalOptions, withBaton } from '../context.js';
import { formatTime, formatValue, note, printJson, printTable } from '../output.js';

export function registerEventsCommands(program: Command): void {
  const events = program.command('events').description('push and list events');

  const push = events
    .command('push')
    .argument('<key>', 'the event key (workflows listen on keys; durable waits match them)')
    .description('push an event: starts every workflow listening on the key and wakes matching durable waits')
    .option('-p, --payload <json>', 'the payload: JSON, @file or @- for standard input')
    .option('--metadata <json>', 'metadata as a JSON object (or @file); triggered runs get it as ctx.additionalMetadata')
    .addHelpText('after', '\nWith --json, prints the stored Event { id, key, payload, metadata, time }.');
  addGlobalOptions(push).action(
    async (key: string, options: GlobalOptions & { payload?: string; metadata?: string }, cmd: Command) => {
      const globals = globalOptions(cmd);
      const payload = options.payload === undefined ? undefined : jsonArgument(options.payload, '--payload');
      const metadata =
        options.metadata === undefined
          ? undefined
          : (jsonObjectArgument(options.metadata, '--metadata') as Record<string, JsonValue>);
      await withBaton(globals, async (baton) => {
        const event = await baton.events.push(key, payload, metadata ? { metadata } : {});
        if (globals.json) printJson(event);
        else {
          process.stdout.write(`${event.id}\n`);
          note(`pushed event "${key}" (${event.id})`);
        }
      });
    },
  );

  const list = events
    .command('list')
    .description('list events, newest first')
    .option('-k, --key <key>', 'events with this key')
    .option('-n, --limit <n>', 'events per page, 1 to 1000 (default 50)')
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .addHelpText('after', '\nWith --json, prints { items: Event[], nextCursor? } as GET /api/v1/events does.');
  addGlobalOptions(list).action(
    async (options: GlobalOptions & { key?: string; limit?: string; cursor?: string }, cmd: Command) => {
      const globals = globalOptions(cmd);
      const limit = options.limit === undefined ? undefined : integerArgument(options.limit, '--limit', 1, 1000);
      await withBaton(globals, async (baton) => {
        const page = await baton.events.list({
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(limit === undefined ? {} : { limit }),
          ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
        });
        if (globals.json) {
          printJson({ items: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
          return;
        }
        printTable(
          ['ID', 'KEY', 'TIME', 'PAYLOAD', 'METADATA'],
          page.items.map((e) => [
            e.id,
            e.key,
            formatTime(e.time),
            e.payload === undefined ? '-' : formatValue(e.payload, 60),
            Object.keys(e.metadata ?? {}).length === 0 ? '-' : formatValue(e.metadata, 40),
          ]),
          'no events',
        );
        if (page.nextCursor) note(`more: baton events list --cursor ${page.nextCursor}`);
      });
    },
  );
}
