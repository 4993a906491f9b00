// Keeps the dependency arrows of DESIGN.md §3 honest by reading import specifiers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);
}

function resolveFolder(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return relative(SRC, join(file, '..', specifier))
    .split('/')
    .slice(0, -1)
    .join('/');
}

const all = files(SRC).map((file) => ({
  file: relative(SRC, file),
  deps: imports(file).map((s) => ({ s, folder: resolveFolder(file, s) })),
}));

describe('architecture', () => {
  it('engine does no I/O and imports only engine and errors', () => {
    for (const { file, deps } of all.filter((f) => f.file.startsWith('engine/'))) {
      for (const { s, folder } of deps) {
        if (folder === undefined) expect.soft(s, `${file} imports ${s}`).toMatch(/^@standard-schema\//);
        else expect.soft(['engine', ''], `${file} imports ${s}`).toContain(folder);
      }
    }
  });

  it('no backend imports another backend', () => {
    for (const { file, deps } of all) {
      if (file.startsWith('store/sqlite/'))
        expect(
          deps.some((d) => d.folder?.startsWith('store/postgres')),
          file,
        ).toBe(false);
      if (file.startsWith('store/postgres/'))
        expect(
          deps.some((d) => d.folder?.startsWith('store/sqlite')),
          file,
        ).toBe(false);
    }
  });

  it('worker and api use the store interface, never a backend (only open-store picks one)', () => {
    for (const { file, deps } of all.filter((f) => /^(worker|api|context|http)\//.test(f.file))) {
      for (const { s, folder } of deps) {
        expect(folder?.startsWith('store/sqlite') || folder?.startsWith('store/postgres'), `${file} imports ${s}`).toBeFalsy();
      }
    }
  });

  it('only api and http reach the HTTP layer: engine, store, worker and context never import it', () => {
    for (const { file, deps } of all.filter((f) => /^(engine|store|worker|context)\//.test(f.file))) {
      for (const { s, folder } of deps) expect(folder?.startsWith('http'), `${file} imports ${s}`).toBeFalsy();
    }
  });

  it('context does not depend on worker or api', () => {
    for (const { file, deps } of all.filter((f) => f.file.startsWith('context/'))) {
      for (const { s, folder } of deps) {
        expect(folder?.startsWith('worker') || folder?.startsWith('api'), `${file} imports ${s}`).toBeFalsy();
      }
    }
  });
});

describe('generated migrations', () => {
  it('are in sync with the .sql files', async () => {
    const { execFileSync } = await import('node:child_process');
    expect(() =>
      execFileSync('node', [join(SRC, '../scripts/build-migrations.mjs'), '--check'], { stdio: 'pipe' }),
    ).not.toThrow();
  });
});
