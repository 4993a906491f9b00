/**
 * The profile a `useProfile` scope selected, carried by an AsyncLocalStorage so
 * concurrent scopes never see each other's. It lives on globalThis under
 * Symbol.for('baton.profile') so two copies of the package share it. Holds no settings:
 * load-settings.ts reads the files when a Baton is made.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ProfileScope {
  readonly name: string;
  /** Whether the profile's settings win over `BATON_*` variables. */
  readonly overrideEnvironment: boolean;
}

const KEY = Symbol.for('baton.profile');
const holder = globalThis as unknown as Record<symbol, AsyncLocalStorage<ProfileScope> | undefined>;

holder[KEY] ??= new AsyncLocalStorage<ProfileScope>();
export const profileStorage: AsyncLocalStorage<ProfileScope> = holder[KEY];

/** The innermost `useProfile` scope around the caller, if any. */
export function currentProfileScope(): ProfileScope | undefined {
  return profileStorage.getStore();
}
