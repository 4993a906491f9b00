/**
 * The cache check at the start of an attempt of a task with `cache`: its key
 * (from the inputs, or the task's key function) and the store's verdict.
 */

import { createHash } from 'node:crypto';
import type { TaskContext } from '../context/task-context.js';
import type { CacheVerdict } from '../engine/cache.js';
import { ValidationError } from '../errors.js';
import type { LeaseRef, RunRow, Store } from '../store/types.js';
import type { TaskDefinition } from './task-definition.js';

export type CacheCheck = { verdict: CacheVerdict; key: string } | { verdict: null } | undefined;

export async function checkCache(
  def: TaskDefinition,
  run: RunRow,
  input: unknown,
  ctx: TaskContext,
  store: Store,
  lease: LeaseRef,
): Promise<CacheCheck> {
  const cache = def.cache;
  if (!cache) return undefined;
  const key = cache.key === 'inputs' ? inputsCacheKey(def.name, def.version, run.input) : await cache.key(input as never, ctx);
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new ValidationError(
      `task "${def.name}": cache.key must return a string of 1-512 characters, got ${JSON.stringify(key)}`,
    );
  }
  const verdict = await store.lookupCache(lease, { namespace: run.namespace, taskName: def.name, key, refresh: cache.refresh });
  return verdict ? { verdict, key } : { verdict: null };
}

/** The key of `cache: { key: 'inputs' }`: the task, its version (its code) and its serialized input. */
function inputsCacheKey(taskName: string, version: string, encodedInput: string | null): string {
  return createHash('sha256')
    .update(`${taskName}\u0000${version}\u0000${encodedInput ?? ''}`)
    .digest('hex');
}
