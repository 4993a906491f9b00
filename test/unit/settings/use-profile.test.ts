// useProfile scopes: which profile loadSettings sees inside, across awaits and concurrent scopes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import { loadSettings } from '../../../src/settings/load-settings.js';
import { useProfile } from '../../../src/settings/use-profile.js';

let home: string;
const savedHome = process.env.BATON_HOME;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'baton-profile-'));
  writeFileSync(
    join(home, 'profiles.json'),
    JSON.stringify({ profiles: { a: { namespace: 'ns-a' }, b: { namespace: 'ns-b', database: ':memory:' } } }),
  );
  // useProfile checks the profile against the process's own environment.
  process.env.BATON_HOME = home;
});
afterEach(() => {
  if (savedHome === undefined) delete process.env.BATON_HOME;
  else process.env.BATON_HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
});

const namespaceNow = (env: Record<string, string> = {}) => loadSettings({ cwd: home, env: { BATON_HOME: home, ...env } });

describe('useProfile', () => {
  it('selects the profile inside the scope only, and returns what fn returns', () => {
    expect(namespaceNow().profile).toBeUndefined();
    expect(useProfile('a', () => namespaceNow().settings.namespace)).toBe('ns-a');
    expect(namespaceNow().settings.namespace).toBe('default');
  });

  it('wins over BATON_PROFILE; an inner scope replaces an outer one', () => {
    useProfile('a', () => {
      expect(namespaceNow({ BATON_PROFILE: 'b' }).settings.namespace).toBe('ns-a');
      useProfile('b', () => expect(namespaceNow().settings.namespace).toBe('ns-b'));
      expect(namespaceNow().settings.namespace).toBe('ns-a');
    });
  });

  it('keeps concurrent scopes apart across awaits', async () => {
    const inScope = (name: string, delays: number[]) =>
      useProfile(name, async () => {
        const seen: string[] = [];
        for (const ms of delays) {
          await sleep(ms);
          seen.push(namespaceNow().settings.namespace);
        }
        return seen;
      });
    const [a, b] = await Promise.all([inScope('a', [5, 1, 5, 1]), inScope('b', [1, 5, 1, 5])]);
    expect(a).toEqual(['ns-a', 'ns-a', 'ns-a', 'ns-a']);
    expect(b).toEqual(['ns-b', 'ns-b', 'ns-b', 'ns-b']);
  });

  it('lets the environment win unless overrideEnvironment is set', () => {
    const env = { BATON_NAMESPACE: 'from-env' };
    expect(useProfile('a', () => namespaceNow(env).settings.namespace)).toBe('from-env');
    expect(useProfile('a', () => namespaceNow(env).settings.namespace, { overrideEnvironment: true })).toBe('ns-a');
  });

  it('throws before fn runs for a profile no file defines', () => {
    let ran = false;
    expect(() =>
      useProfile('missing', () => {
        ran = true;
      }),
    ).toThrow(/profile "missing" \(from useProfile\) is not defined .*known profiles: a, b/);
    expect(ran).toBe(false);
  });

  it('rejects a bad name or option', () => {
    expect(() => useProfile('', () => 1)).toThrow(ValidationError);
    expect(() => useProfile('a', () => 1, { overrideEnv: true } as never)).toThrow(/unknown option "overrideEnv"/);
  });
});
