/**
 * `baton.tokens`: API tokens for the HTTP API and dashboard. A token is shown
 * once; the store keeps only its SHA-256. Scoped to namespaces (`*` = all) and
 * to `read` or `write` (write includes read); revocable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { checkOptions, is } from '../engine/options.js';
import { ValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { TokenRow } from '../store/types.js';
import type { BatonRuntime } from './runtime.js';

export interface TokenInfo {
  id: string;
  name: string | undefined;
  namespaces: string[];
  scope: 'read' | 'write';
  createdAt: Date;
  revokedAt: Date | undefined;
}

export interface CreateTokenOptions {
  /** Namespaces it may see; `'*'` is all. Default `['default']`. */
  namespaces?: string[];
  /** `read` may only read; `write` (default) may also start, cancel and change things. */
  scope?: 'read' | 'write';
  /** A label to recognise it by. */
  name?: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name ?? undefined,
    namespaces: row.namespaces,
    scope: row.scope,
    createdAt: new Date(row.createdAt),
    revokedAt: row.revokedAt === null ? undefined : new Date(row.revokedAt),
  };
}

export class Tokens {
  readonly #runtime: BatonRuntime;

  constructor(runtime: BatonRuntime) {
    this.#runtime = runtime;
  }

  /** Creates a token; `token` is returned only here. */
  async create(options: CreateTokenOptions = {}): Promise<{ id: string; token: string }> {
    checkOptions('token options', options, {
      namespaces: (v, k) =>
        Array.isArray(v) && v.length > 0 && v.every((n) => n === '*' || is.name(n, k) === undefined)
          ? undefined
          : `${k} must be a non-empty array of namespace names or '*'`,
      scope: is.oneOf('read', 'write'),
      name: is.string,
    });
    const token = `baton_${randomBytes(32).toString('base64url')}`;
    const id = newId(this.#runtime.clock.now());
    const store = await this.#runtime.store();
    await store.createToken({
      id,
      tokenHash: hashToken(token),
      name: options.name ?? null,
      namespaces: options.namespaces ?? ['default'],
      scope: options.scope ?? 'write',
      createdAt: this.#runtime.clock.now(),
      revokedAt: null,
    });
    return { id, token };
  }

  async list(): Promise<TokenInfo[]> {
    return (await (await this.#runtime.store()).listTokens()).map(toInfo);
  }

  /** Revokes a token at once; resolves to whether it was active. */
  async revoke(id: string): Promise<boolean> {
    if (typeof id !== 'string' || id.length === 0) throw new ValidationError('tokens.revoke(id): id must be a string');
    return (await this.#runtime.store()).revokeToken(id);
  }

  /** The active token row for a presented token, if any. */
  async verify(token: string): Promise<TokenInfo | undefined> {
    const row = await (await this.#runtime.store()).findToken(hashToken(token));
    return row && row.revokedAt === null ? toInfo(row) : undefined;
  }
}
