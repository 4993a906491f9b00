/**
 * The entry module of `baton worker <entry>` and `baton dev <entry>`: imports it and finds
 * every Task and Workflow it exports (named exports and the default export, an array of
 * them included), grouped by the Baton instance that defined them, so each group is
 * served by a worker on its own instance. A TypeScript entry loads through tsx, which
 * is registered here when the CLI does not already run under it. Starts nothing.
 */
import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Baton, ownerOf } from '../api/baton.js';
import { Task } from '../api/task.js';
import { Workflow } from '../api/workflow.js';
import { ValidationError } from '../errors.js';

// biome-ignore lint/suspicious/noExplicitAny: an entry exports tasks and workflows of any input and output
export type EntryTarget = Task<any, any> | Workflow<any, any>;

export interface LoadedEntry {
  /** The entry's absolute path. */
  path: string;
  /** What it exports, by the Baton that defined it, in export order. */
  groups: { baton: Baton; targets: EntryTarget[] }[];
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);
// `.ts` when Baton runs from its sources under tsx, `.js` once built.
const IS_FROM_SOURCES = TYPESCRIPT.has(extname(fileURLToPath(import.meta.url)));

/**
 * Imports `entry` (relative to `cwd`) and returns its tasks and workflows. Throws
 * `ValidationError` (a usage error) when the file is missing, fails to import, or
 * exports no task or workflow.
 */
export async function loadEntry(entry: string, cwd = process.cwd()): Promise<LoadedEntry> {
  const path = resolve(cwd, entry);
  const isFile = (() => {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  })();
  if (!isFile) {
    throw new ValidationError(`entry ${entry}: no such file (resolved to ${path})`, [{ path: 'entry', message: 'not found' }]);
  }
  if (TYPESCRIPT.has(extname(path))) await ensureTypeScriptLoader(entry);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw withCause(
      new ValidationError(`entry ${entry} could not be imported: ${message}`, [{ path: 'entry', message: 'import failed' }]),
      error,
    );
  }
  const groups = groupByOwner(exportedTargets(exports));
  if (groups.length === 0) {
    throw new ValidationError(
      `entry ${entry} exports no task or workflow: export what baton.task(), baton.durableTask() and baton.workflow() return (defined on a Baton from the same 'baton' package as this CLI)`,
      [{ path: 'entry', message: 'no tasks' }],
    );
  }
  return { path, groups };
}

/** Every Task and Workflow among a module's exports (and in a default-exported array), once each. */
export function exportedTargets(exports: Record<string, unknown>): EntryTarget[] {
  const found = new Set<EntryTarget>();
  const add = (value: unknown) => {
    if (value instanceof Task || value instanceof Workflow) found.add(value);
  };
  for (const [name, value] of Object.entries(exports)) {
    if (name === 'default' && Array.isArray(value)) value.forEach(add);
    else add(value);
  }
  return [...found];
}

function groupByOwner(targets: readonly EntryTarget[]): LoadedEntry['groups'] {
  const groups = new Map<Baton, EntryTarget[]>();
  for (const target of targets) {
    const baton = ownerOf(target);
    if (!baton) continue;
    const list = groups.get(baton) ?? [];
    list.push(target);
    groups.set(baton, list);
  }
  return [...groups].map(([baton, list]) => ({ baton, targets: list }));
}

let isTsxRegistered = false;

/** Registers tsx for a TypeScript entry, unless this process already loads TypeScript. */
async function ensureTypeScriptLoader(entry: string): Promise<void> {
  if (IS_FROM_SOURCES || isTsxRegistered) return;
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (/\btsx\b/.test(flags)) return;
  try {
    const api = await import('tsx/esm/api');
    api.register();
    isTsxRegistered = true;
  } catch (error) {
    throw withCause(
      new ValidationError(
        `entry ${entry} is TypeScript and tsx could not be loaded: install it (npm install --save-dev tsx), or compile the entry to JavaScript`,
        [{ path: 'entry', message: 'needs tsx' }],
      ),
      error,
    );
  }
}

function withCause<E extends Error>(error: E, cause: unknown): E {
  Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  return error;
}
