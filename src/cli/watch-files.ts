/**
 * `baton dev`'s file watcher: one `fs.watch` per directory under a root (new
 * directories are picked up), skipping `node_modules`, `dist` and dot-directories
 * (`.baton`, `.git`) so large trees cost nothing; reports changed source files
 * (`.ts`, `.js`, `.json`…) once they have been quiet for a debounce period. Database
 * files and logs written under the root never trigger it. Knows nothing of workers.
 */
import { type Dirent, type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { extname, join, relative } from 'node:path';

const IGNORED_DIRECTORIES = new Set(['node_modules', 'dist', 'build', 'coverage']);
const SOURCE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs', '.jsx', '.json']);
// inotify watches are a per-user resource: a tree past this is only partly watched (and says so).
const MAX_DIRECTORIES = 4_000;

export interface WatchOptions {
  /** Quiet time before reporting, in ms. Default 200. */
  debounceMs?: number;
  /** Told once when the tree has more directories than are watched. */
  onLimit?(watched: number): void;
}

export interface FileWatcher {
  close(): void;
}

/** Watches `root` recursively; `onChange` gets the changed source files, relative to `root`. */
export function watchSourceFiles(root: string, onChange: (files: string[]) => void, options: WatchOptions = {}): FileWatcher {
  const debounceMs = options.debounceMs ?? 200;
  const watchers = new Map<string, FSWatcher>();
  let changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let isClosed = false;
  let isLimitReported = false;

  const report = () => {
    timer = undefined;
    const files = [...changed];
    changed = new Set();
    if (files.length > 0 && !isClosed) onChange(files);
  };

  const unwatch = (dir: string) => {
    for (const [path, watcher] of watchers) {
      if (path === dir || path.startsWith(`${dir}/`)) {
        watcher.close();
        watchers.delete(path);
      }
    }
  };

  const addDirectory = (dir: string) => {
    if (isClosed || watchers.has(dir)) return;
    if (watchers.size >= MAX_DIRECTORIES) {
      if (!isLimitReported) options.onLimit?.(watchers.size);
      isLimitReported = true;
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, filename) => onEvent(dir, filename === null ? undefined : String(filename)));
    } catch {
      return; // gone already, or not readable
    }
    watcher.on('error', () => unwatch(dir));
    watchers.set(dir, watcher);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory() && !isIgnored(entry.name)) addDirectory(join(dir, entry.name));
  };

  const onEvent = (dir: string, filename: string | undefined) => {
    if (isClosed || filename === undefined) return;
    const path = join(dir, filename);
    const kind = kindOf(path);
    if (kind === 'directory') {
      if (!isIgnored(filename) && !watchers.has(path)) addDirectory(path);
      return;
    }
    if (kind === 'missing' && watchers.has(path)) unwatch(path);
    if (!SOURCE_EXTENSIONS.has(extname(filename))) return;
    changed.add(relative(root, path));
    clearTimeout(timer);
    timer = setTimeout(report, debounceMs);
  };

  addDirectory(root);
  return {
    close() {
      isClosed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

function isIgnored(name: string): boolean {
  return IGNORED_DIRECTORIES.has(name) || name.startsWith('.');
}

function kindOf(path: string): 'file' | 'directory' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}
