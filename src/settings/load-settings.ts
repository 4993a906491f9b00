/**
 * Loads Baton's settings from their layers, lowest first: defaults < the top level of
 * `$BATON_HOME/profiles.json` < the top level of `./baton.config.json` < the selected
 * profile (the project file's definition over the home file's) < `BATON_*` variables.
 * With `profileWins` the profile goes above the variables (Prefect's
 * `override_environment_variables`). A bad key or value in any layer fails here, in one
 * ValidationError naming each key and its source. Reads files and the environment;
 * makes no Baton and applies nothing.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkOptions, is } from '../engine/options.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { closestName } from './closest-name.js';
import { currentProfileScope } from './profile-scope.js';
import { type ProfilesFile, readProfilesFile } from './profiles-file.js';
import {
  LOCATION_VARIABLES,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type Settings,
  type SettingValues,
  toSettings,
} from './settings-schema.js';

export interface LoadSettingsOptions {
  /** Folder holding `baton.config.json`. Default `process.cwd()`. */
  cwd?: string;
  /** Where `BATON_*` variables are read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The profile to apply. Default: the `useProfile` scope, else `BATON_PROFILE`, else the files' `activeProfile`. */
  profile?: string;
  /** Let the profile's settings win over `BATON_*` variables. Default `false` (or the `useProfile` scope's choice). */
  profileWins?: boolean;
}

/** Where a setting's value came from, for `baton doctor` and error messages. */
export type SettingSource =
  | { readonly from: 'default' }
  | { readonly from: 'file'; readonly path: string; readonly profile?: string }
  | { readonly from: 'environment'; readonly variable: string };

export interface LoadedSettings {
  readonly settings: Settings;
  /** Where each value came from, by dotted key (`worker.slots`). */
  readonly sources: Readonly<Record<SettingKey, SettingSource>>;
  /** The profile that was applied, if any. */
  readonly profile: string | undefined;
  /** The profiles files that exist and were read, lowest precedence first. */
  readonly files: readonly string[];
  /** `BATON_*` variables that are not settings but look like a typo of one; they are ignored. */
  readonly warnings: readonly string[];
}

interface Layer {
  readonly values: Partial<SettingValues>;
  source(key: SettingKey): SettingSource;
}

/**
 * Reads the profiles files and `BATON_*` variables into typed, frozen settings.
 * Throws a `ValidationError` naming the key and its source for an unknown key or a bad
 * value in a file, a bad `BATON_*` value, or a profile that no file defines.
 *
 * @example
 * const { settings, sources } = loadSettings();
 * settings.worker.slots;        // 10
 * sources['worker.slots'];      // { from: 'default' }
 */
export function loadSettings(options: LoadSettingsOptions = {}): LoadedSettings {
  checkOptions('loadSettings options', options, {
    cwd: is.string,
    env: (v, k) => (typeof v === 'object' && v !== null ? undefined : `${k} must be an object of strings`),
    profile: is.string,
    profileWins: is.boolean,
  });
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const scope = currentProfileScope();
  const issues: ValidationIssue[] = [];
  const home = readProfilesFile(join(batonHome(env, cwd), 'profiles.json'), issues);
  const project = readProfilesFile(join(cwd, 'baton.config.json'), issues);
  const files = [home, project].filter((f) => f !== undefined);
  const requested =
    options.profile !== undefined
      ? { name: options.profile, via: 'loadSettings({ profile })' }
      : scope && { name: scope.name, via: 'useProfile' };
  const profile = selectProfile(requested, env, { home, project }, issues);
  const environment = readEnvironment(env, issues);
  if (issues.length > 0) throw new ValidationError(issues.map((i) => i.message).join('; '), issues);

  const tops = files.map((f): Layer => ({ values: f.base, source: () => ({ from: 'file', path: f.path }) }));
  const profiles = files.flatMap((f): Layer[] => {
    const values = profile === undefined ? undefined : f.profiles.get(profile);
    return values ? [{ values, source: () => ({ from: 'file', path: f.path, profile }) }] : [];
  });
  const profileWins = options.profileWins ?? scope?.overrideEnvironment ?? false;
  const layers = profileWins ? [...tops, environment, ...profiles] : [...tops, ...profiles, environment];

  const values = {} as SettingValues;
  const sources = {} as Record<SettingKey, SettingSource>;
  for (const key of SETTING_KEYS) {
    values[key] = SETTINGS[key].default;
    sources[key] = { from: 'default' };
    for (const layer of layers) {
      if (!Object.hasOwn(layer.values, key)) continue;
      values[key] = layer.values[key];
      sources[key] = layer.source(key);
    }
  }
  return Object.freeze({
    settings: toSettings(values),
    sources: Object.freeze(sources),
    profile,
    files: Object.freeze(files.map((f) => f.path)),
    warnings: Object.freeze(typoWarnings(env)),
  });
}

type Env = Readonly<Record<string, string | undefined>>;

/** `BATON_HOME` (`~` expands), else `~/.baton`. */
function batonHome(env: Env, cwd: string): string {
  const home = env.BATON_HOME?.trim();
  if (!home) return join(homedir(), '.baton');
  return resolve(cwd, home === '~' || home.startsWith('~/') ? join(homedir(), home.slice(1)) : home);
}

function selectProfile(
  requested: { name: string; via: string } | undefined,
  env: Env,
  { home, project }: { home: ProfilesFile | undefined; project: ProfilesFile | undefined },
  issues: ValidationIssue[],
): string | undefined {
  const files = [home, project].filter((f) => f !== undefined);
  const fromEnv = env.BATON_PROFILE?.trim() || undefined;
  const fromFile = project?.activeProfile ? project : home?.activeProfile ? home : undefined;
  const name = requested?.name ?? fromEnv ?? fromFile?.activeProfile;
  if (name === undefined || files.some((f) => f.profiles.has(name))) return name;
  const via = requested?.via ?? (fromEnv !== undefined ? 'BATON_PROFILE' : `activeProfile in ${fromFile?.path}`);
  const known = [...new Set(files.flatMap((f) => [...f.profiles.keys()]))];
  const where = files.length > 0 ? files.map((f) => f.path).join(' or ') : 'any profiles file (none was found)';
  issues.push({
    path: 'profile',
    message: `profile "${name}" (from ${via}) is not defined in ${where}; known profiles: ${known.join(', ') || 'none'}`,
  });
  return undefined;
}

function readEnvironment(env: Env, issues: ValidationIssue[]): Layer {
  const values: Partial<SettingValues> = {};
  for (const key of SETTING_KEYS) {
    const { env: variable, kind } = SETTINGS[key];
    const text = env[variable];
    // An empty variable counts as unset, as shells and `.env` files commonly write "unset".
    if (text === undefined || text.trim() === '') continue;
    const parsed = kind.fromText(text);
    if ('problem' in parsed) issues.push({ path: key, message: `${variable}: ${parsed.problem} (from environment)` });
    else values[key] = parsed.value;
  }
  return { values, source: (key) => ({ from: 'environment', variable: SETTINGS[key].env }) };
}

/** Unknown `BATON_*` names are not errors (other tools share the prefix); near-misses are worth a warning. */
function typoWarnings(env: Env): string[] {
  const known = [...SETTING_KEYS.map((k) => SETTINGS[k].env), ...LOCATION_VARIABLES] as string[];
  return Object.keys(env)
    .filter((name) => name.startsWith('BATON_') && !known.includes(name))
    .flatMap((name) => {
      const near = closestName(name, known);
      return near ? [`${name} is not a Baton setting and is ignored; did you mean ${near}?`] : [];
    });
}
