/**
 * Reads one profiles file (`./baton.config.json` or `$BATON_HOME/profiles.json`) and
 * checks every setting in it, naming the key and the file. It only reads: which file
 * and which profile win is load-settings.ts.
 *
 * Shape: `{ "activeProfile"?: name, "profiles"?: { name: settings }, …settings }`.
 * Settings at the top level apply under any profile; they may be nested
 * (`{ "worker": { "slots": 4 } }`) or dotted (`{ "worker.slots": 4 }`).
 */
import { readFileSync } from 'node:fs';
import { toError, type ValidationIssue } from '../errors.js';
import { closestName } from './closest-name.js';
import { SETTING_GROUPS, SETTING_KEYS, SETTINGS, type SettingKey, type SettingValues } from './settings-schema.js';

export interface ProfilesFile {
  readonly path: string;
  /** The settings at the top level of the file. */
  readonly base: Partial<SettingValues>;
  readonly profiles: ReadonlyMap<string, Partial<SettingValues>>;
  readonly activeProfile: string | undefined;
}

/** The file's content, `undefined` when it does not exist or is broken (then `issues` says why). */
export function readProfilesFile(path: string, issues: ValidationIssue[]): ProfilesFile | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const what = error instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read';
    issues.push({ path: '', message: `${path} ${what} (${toError(error).message})` });
    return undefined;
  }
  if (!isObject(json)) {
    issues.push({ path: '', message: `${path} must hold a JSON object of settings and profiles` });
    return undefined;
  }
  const { profiles: rawProfiles, activeProfile, ...rest } = json;
  const profiles = new Map<string, Partial<SettingValues>>();
  if (rawProfiles !== undefined && !isObject(rawProfiles)) {
    issues.push({ path: 'profiles', message: `profiles: must be an object of named profiles (from ${path})` });
  } else {
    for (const [name, settings] of Object.entries(rawProfiles ?? {})) {
      if (!isObject(settings)) {
        issues.push({ path: `profiles.${name}`, message: `profiles.${name}: must be an object of settings (from ${path})` });
        continue;
      }
      profiles.set(name, readSettings(settings, `profile "${name}" in ${path}`, issues));
    }
  }
  if (activeProfile !== undefined && (typeof activeProfile !== 'string' || activeProfile === '')) {
    issues.push({ path: 'activeProfile', message: `activeProfile: must be a profile name (from ${path})` });
  }
  return {
    path,
    base: readSettings(rest, path, issues),
    profiles,
    activeProfile: typeof activeProfile === 'string' && activeProfile !== '' ? activeProfile : undefined,
  };
}

function readSettings(object: Record<string, unknown>, where: string, issues: ValidationIssue[]): Partial<SettingValues> {
  const values: Partial<SettingValues> = {};
  for (const [key, value] of Object.entries(object)) {
    if (!(SETTING_GROUPS as readonly string[]).includes(key)) {
      readSetting(key, value, where, values, issues);
    } else if (isObject(value)) {
      for (const [name, inner] of Object.entries(value)) readSetting(`${key}.${name}`, inner, where, values, issues);
    } else {
      const members = SETTING_KEYS.filter((k) => k.startsWith(`${key}.`)).map((k) => k.slice(key.length + 1));
      issues.push({ path: key, message: `${key}: must be an object of ${members.join(', ')} (from ${where})` });
    }
  }
  return values;
}

function readSetting(key: string, value: unknown, where: string, values: Partial<SettingValues>, issues: ValidationIssue[]) {
  if (!Object.hasOwn(SETTINGS, key)) {
    const near = closestName(key, SETTING_KEYS);
    const hint = near ? `did you mean ${near}?` : `known: ${SETTING_KEYS.join(', ')}`;
    issues.push({ path: key, message: `${key}: unknown setting; ${hint} (from ${where})` });
    return;
  }
  const parsed = SETTINGS[key as SettingKey].kind.fromJson(value);
  if ('problem' in parsed) issues.push({ path: key, message: `${key}: ${parsed.problem} (from ${where})` });
  else values[key as SettingKey] = parsed.value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
