// The settings loader, with injected environments and temp folders: layers, profile
// selection, errors that name the key and its source, and redaction.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import { type LoadSettingsOptions, loadSettings } from '../../../src/settings/load-settings.js';
import { DEFAULT_SETTINGS } from '../../../src/settings/settings-schema.js';

let root: string;
let project: string;
let home: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'baton-settings-'));
  project = join(root, 'project');
  home = join(root, 'home');
  mkdirSync(project);
  mkdirSync(home);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const writeProject = (content: unknown) => writeFileSync(join(project, 'baton.config.json'), JSON.stringify(content));
const writeHome = (content: unknown) => writeFileSync(join(home, 'profiles.json'), JSON.stringify(content));
const load = (env: Record<string, string> = {}, options: LoadSettingsOptions = {}) =>
  loadSettings({ cwd: project, env: { BATON_HOME: home, ...env }, ...options });

function loadError(env: Record<string, string> = {}, options: LoadSettingsOptions = {}): ValidationError {
  try {
    load(env, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('loadSettings did not throw');
}

describe('loadSettings: layers', () => {
  it('gives the defaults, from "default", when there are no files and no variables', () => {
    const { settings, sources, profile, files } = load();
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(settings.database).toBe('./.baton/baton.db');
    expect(settings.worker).toEqual({ slots: 10, lease: 30_000, pollInterval: undefined });
    expect(settings.limits.input).toBe(4 * 1024 * 1024);
    expect(settings.http).toEqual({ port: 8400, host: '127.0.0.1', token: undefined });
    expect(sources['worker.slots']).toEqual({ from: 'default' });
    expect(profile).toBeUndefined();
    expect(files).toEqual([]);
  });

  it('precedence: default < home file < project file < profile < environment', () => {
    writeHome({ schema: 'home_schema', namespace: 'from-home', profiles: { dev: { logLevel: 'warn' } } });
    writeProject({
      namespace: 'from-project',
      'worker.slots': 4,
      activeProfile: 'dev',
      profiles: { dev: { worker: { slots: 6, lease: '1m' }, limits: { input: 100 } } },
    });
    const { settings, sources, profile } = load({ BATON_LIMITS_INPUT: '200' });
    const projectFile = join(project, 'baton.config.json');
    const homeFile = join(home, 'profiles.json');
    expect(profile).toBe('dev');
    expect(settings.database).toBe('./.baton/baton.db');
    expect(sources.database).toEqual({ from: 'default' });
    expect(settings.schema).toBe('home_schema');
    expect(sources.schema).toEqual({ from: 'file', path: homeFile });
    expect(settings.namespace).toBe('from-project');
    expect(sources.namespace).toEqual({ from: 'file', path: projectFile });
    expect(settings.logLevel).toBe('warn');
    expect(sources.logLevel).toEqual({ from: 'file', path: homeFile, profile: 'dev' });
    expect(settings.worker.slots).toBe(6);
    expect(settings.worker.lease).toBe(60_000);
    expect(sources['worker.slots']).toEqual({ from: 'file', path: projectFile, profile: 'dev' });
    expect(settings.limits.input).toBe(200);
    expect(sources['limits.input']).toEqual({ from: 'environment', variable: 'BATON_LIMITS_INPUT' });
  });

  it('profileWins puts the profile over the environment, but not the files’ top level', () => {
    writeProject({ namespace: 'top', profiles: { ci: { database: ':memory:' } }, activeProfile: 'ci' });
    const env = { BATON_DATABASE_URL: './env.db', BATON_NAMESPACE: 'env-ns' };
    expect(load(env).settings.database).toBe('./env.db');
    const { settings, sources } = load(env, { profileWins: true });
    expect(settings.database).toBe(':memory:');
    expect(sources.database).toMatchObject({ from: 'file', profile: 'ci' });
    expect(settings.namespace).toBe('env-ns');
  });

  it('reads every setting from its environment variable', () => {
    const { settings } = load({
      BATON_DATABASE_URL: 'postgres://u:secret@db/app',
      BATON_SCHEMA: 'jobs',
      BATON_NAMESPACE: 'billing',
      BATON_LOG_LEVEL: 'debug',
      BATON_WORKER_SLOTS: '32',
      BATON_WORKER_LEASE: '45s',
      BATON_WORKER_POLL_INTERVAL: '250',
      BATON_LIMITS_INPUT: '1',
      BATON_LIMITS_OUTPUT: '2',
      BATON_LIMITS_EVENT: '3',
      BATON_LIMITS_STREAM_CHUNK: '0',
      BATON_HTTP_PORT: '9000',
      BATON_HTTP_HOST: '0.0.0.0',
      BATON_TOKEN: 't0ken',
    });
    expect(settings).toMatchObject({
      database: 'postgres://u:secret@db/app',
      schema: 'jobs',
      namespace: 'billing',
      logLevel: 'debug',
      worker: { slots: 32, lease: 45_000, pollInterval: 250 },
      limits: { input: 1, output: 2, event: 3, streamChunk: 0 },
      http: { port: 9000, host: '0.0.0.0', token: 't0ken' },
    });
  });

  it('treats an empty variable as unset', () => {
    expect(load({ BATON_WORKER_SLOTS: '', BATON_TOKEN: '  ' }).settings.worker.slots).toBe(10);
  });

  it('returns frozen settings', () => {
    const { settings } = load();
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.worker)).toBe(true);
  });
});

describe('loadSettings: profile selection', () => {
  beforeEach(() =>
    writeProject({
      activeProfile: 'dev',
      profiles: { dev: { namespace: 'dev' }, prod: { namespace: 'prod' }, test: { namespace: 'test' } },
    }),
  );

  it('uses the file’s activeProfile by default', () => {
    expect(load().settings.namespace).toBe('dev');
  });

  it('BATON_PROFILE overrides the file’s activeProfile', () => {
    const loaded = load({ BATON_PROFILE: 'prod' });
    expect(loaded.profile).toBe('prod');
    expect(loaded.settings.namespace).toBe('prod');
  });

  it('the profile option overrides BATON_PROFILE', () => {
    expect(load({ BATON_PROFILE: 'prod' }, { profile: 'test' }).settings.namespace).toBe('test');
  });

  it('fails on a profile no file defines, naming where it was asked for and the known ones', () => {
    const error = loadError({ BATON_PROFILE: 'staging' });
    expect(error.message).toContain('profile "staging" (from BATON_PROFILE) is not defined');
    expect(error.message).toContain('known profiles: dev, prod, test');
  });

  it('reads profiles from $BATON_HOME/profiles.json; the project defines the same profile over it', () => {
    writeHome({ activeProfile: 'remote', profiles: { remote: { http: { token: 'abc' } }, dev: { namespace: 'home-dev' } } });
    writeProject({ profiles: { dev: { namespace: 'project-dev' } } });
    const remote = load();
    expect(remote.profile).toBe('remote');
    expect(remote.settings.http.token).toBe('abc');
    expect(remote.files).toEqual([join(home, 'profiles.json'), join(project, 'baton.config.json')]);
    expect(load({ BATON_PROFILE: 'dev' }).settings.namespace).toBe('project-dev');
  });

  it('the project’s activeProfile wins over the home file’s', () => {
    writeHome({ activeProfile: 'prod', profiles: { prod: { namespace: 'home-prod' } } });
    expect(load().profile).toBe('dev');
  });

  it('BATON_HOME defaults to ~/.baton and may start with ~', () => {
    const loaded = loadSettings({ cwd: project, env: { BATON_HOME: '~/.baton-test-that-does-not-exist' } });
    expect(loaded.files).toEqual([join(project, 'baton.config.json')]);
  });
});

describe('loadSettings: errors name the key and its source', () => {
  it('an unknown key in a file, with a suggestion', () => {
    writeProject({ worker: { slot: 4 } });
    const error = loadError();
    expect(error.message).toBe(
      `worker.slot: unknown setting; did you mean worker.slots? (from ${join(project, 'baton.config.json')})`,
    );
    expect(error.issues).toEqual([{ path: 'worker.slot', message: error.message }]);
  });

  it('an unknown key inside a profile names the profile and the file', () => {
    writeHome({ profiles: { dev: { colour: 'blue' } } });
    expect(loadError().message).toMatch(
      new RegExp(`^colour: unknown setting; known: database, .* \\(from profile "dev" in ${join(home, 'profiles.json')}\\)$`),
    );
  });

  it('a bad value in a file', () => {
    writeProject({ profiles: { dev: { http: { port: '8080' } } } });
    expect(loadError().message).toBe(
      `http.port: must be an integer from 1 to 65535, got "8080" (from profile "dev" in ${join(project, 'baton.config.json')})`,
    );
  });

  it('a bad environment variable', () => {
    expect(loadError({ BATON_HTTP_PORT: 'abc' }).message).toBe(
      'BATON_HTTP_PORT: must be an integer from 1 to 65535, got "abc" (from environment)',
    );
    expect(loadError({ BATON_WORKER_LEASE: '100ms' }).message).toBe(
      'BATON_WORKER_LEASE: must be at least 300ms, got "100ms" (from environment)',
    );
    expect(loadError({ BATON_LOG_LEVEL: 'loud' }).message).toContain('BATON_LOG_LEVEL: must be one of debug, info');
    expect(loadError({ BATON_SCHEMA: 'Bad-Name' }).message).toContain('BATON_SCHEMA: must be a lower-case SQL identifier');
  });

  it('lists every problem at once', () => {
    writeProject({ logLevel: 'loud', worker: 3 });
    const error = loadError({ BATON_WORKER_SLOTS: '0' });
    expect(error.issues.map((i) => i.path)).toEqual(['logLevel', 'worker', 'worker.slots']);
    expect(error.message).toContain('worker: must be an object of slots, lease, pollInterval');
  });

  it('a file that is not JSON, or not an object', () => {
    writeFileSync(join(project, 'baton.config.json'), '{ "database": ');
    expect(loadError().message).toContain(`${join(project, 'baton.config.json')} is not valid JSON`);
    writeProject([1, 2]);
    expect(loadError().message).toContain('must hold a JSON object');
  });

  it('does not fail on unrelated BATON_* variables, and warns about likely typos', () => {
    const { warnings } = load({ BATON_TEST_PG_URL: 'postgres://x', BATON_WORKER_SLOT: '4', BATON_PROFILE: '' });
    expect(warnings).toEqual(['BATON_WORKER_SLOT is not a Baton setting and is ignored; did you mean BATON_WORKER_SLOTS?']);
  });
});

describe('printing settings', () => {
  it('hides the token and a database password', () => {
    const { settings } = load({ BATON_TOKEN: 'sekrit-token', BATON_DATABASE_URL: 'postgres://app:pw123@db/app' });
    expect(settings.http.token).toBe('sekrit-token');
    for (const printed of [JSON.stringify(settings), inspect(settings, { depth: 5 }), `${JSON.stringify({ settings })}`]) {
      expect(printed).not.toContain('sekrit-token');
      expect(printed).not.toContain('pw123');
      expect(printed).toContain('***');
    }
    expect(JSON.parse(JSON.stringify(settings)).http).toEqual({ port: 8400, host: '127.0.0.1', token: '***' });
  });

  it('keeps the real values reachable by spreading', () => {
    const { settings } = load({ BATON_TOKEN: 'tok' });
    expect({ ...settings.http }.token).toBe('tok');
  });
});
