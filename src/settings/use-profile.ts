/** `useProfile(name, fn)`: run code with a named settings profile active (Prefect's `use_profile`). */
import { checkOptions, is } from '../engine/options.js';
import { ValidationError } from '../errors.js';
import { loadSettings } from './load-settings.js';
import { profileStorage } from './profile-scope.js';

export interface UseProfileOptions {
  /**
   * Let the profile's settings win over `BATON_*` environment variables (Prefect's
   * `override_environment_variables`). Default `false`: the environment wins.
   */
  overrideEnvironment?: boolean;
}

/**
 * Runs `fn` with profile `name` active: a `new Baton()` (or `loadSettings()`) inside it,
 * however deep in its async calls, takes its defaults from that profile instead of
 * `BATON_PROFILE` or the files' `activeProfile`. Concurrent scopes do not see each
 * other's profile; an inner scope replaces an outer one. The profile is checked at once:
 * an unknown profile or a bad setting throws a `ValidationError` before `fn` runs.
 * Returns what `fn` returns.
 *
 * @example
 * await useProfile('test', async () => {
 *   const baton = new Baton(); // database, namespace, limits… from profile "test"
 *   await runSuite(baton);
 *   await baton.close();
 * });
 */
export function useProfile<T>(name: string, fn: () => T, options: UseProfileOptions = {}): T {
  if (typeof name !== 'string' || name === '') {
    throw new ValidationError(`useProfile: name must be a profile name, got ${JSON.stringify(name)}`, [
      { path: 'name', message: 'required' },
    ]);
  }
  checkOptions('useProfile options', options, { overrideEnvironment: is.boolean });
  const scope = { name, overrideEnvironment: options.overrideEnvironment ?? false };
  profileStorage.run(scope, () => loadSettings());
  return profileStorage.run(scope, fn);
}
