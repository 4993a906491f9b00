/**
 * The framework-free part of the web adapters: the `baton-tags` header, the checks of
 * the adapters' options, and which errors become a 400/409 answer (only those of the
 * request's own Baton headers, never the handler's).
 */
import { getCustomContext, ValidationError } from 'baton';
import { describe, expect, it } from 'vitest';
import { currentScope } from '../../../src/context/ambient-store.js';
import {
  checkRequestScopeOptions,
  parseTagsHeader,
  refusedRequest,
  runInRequestScope,
} from '../../../src/integrations/request-scope.js';

const headers = (values: Record<string, string>) => (name: string) => values[name];

describe('parseTagsHeader', () => {
  it('reads name=value pairs, trimmed and URL-decoded', () => {
    expect(parseTagsHeader('source=crm, team = growth%2Cplus,,note=a%3Db')).toEqual({
      source: 'crm',
      team: 'growth,plus',
      note: 'a=b',
    });
    expect(parseTagsHeader('empty=')).toEqual({ empty: '' });
  });

  it('refuses a member without a name or =, or with bad escapes, naming it', () => {
    for (const bad of ['crm', '=x', 'a=%E0%A4%A']) {
      expect(() => parseTagsHeader(`ok=1,${bad}`)).toThrow(ValidationError);
      expect(() => parseTagsHeader(`ok=1,${bad}`)).toThrow(`at "${bad}"`);
    }
  });
});

describe('runInRequestScope', () => {
  it('runs the handler with the header tags under the tags function', async () => {
    const tags = await runInRequestScope(
      {},
      headers({ 'baton-tags': 'a=header,b=header' }),
      { tags: () => ({ b: 'function' }) },
      async () => currentScope().tags,
    );
    expect(tags).toEqual({ a: 'header', b: 'function' });
    expect(getCustomContext()).toEqual({});
  });

  it('ignores the header with tagsHeader: false, and reads another one when named', async () => {
    const seen = (tagsHeader: string | false) =>
      runInRequestScope({}, headers({ 'baton-tags': 'a=1', 'x-tags': 'b=2' }), { tagsHeader }, async () => currentScope().tags);
    expect(await seen(false)).toEqual({});
    expect(await seen('x-tags')).toEqual({ b: '2' });
  });

  it('answers 400 for a refused header, and leaves the handler errors alone', async () => {
    const malformed = await runInRequestScope({}, headers({ 'baton-tags': 'nope' }), {}, async () => 'ran').catch((e) => e);
    expect(refusedRequest(malformed)).toMatchObject({ status: 400, body: { error: { code: 'BATON_VALIDATION' } } });
    const forged = await runInRequestScope({}, headers({ 'baton-context': 'bt1.e30.x' }), {}, async () => 'ran').catch((e) => e);
    expect(refusedRequest(forged)?.status).toBe(400);
    const missing = await runInRequestScope({}, headers({}), { context: 'required' }, async () => 'ran').catch((e) => e);
    expect(refusedRequest(missing)?.body.error.message).toMatch(/baton-context header is missing/);
    expect(await runInRequestScope({}, headers({ 'baton-context': 'x' }), { context: 'ignore' }, async () => 'ran')).toBe('ran');

    const own = await runInRequestScope({}, headers({}), {}, async () => {
      throw new ValidationError('the handler refused its input');
    }).catch((e) => e);
    expect(own).toBeInstanceOf(ValidationError);
    expect(refusedRequest(own)).toBeUndefined();
  });
});

describe('checkRequestScopeOptions', () => {
  it('names an unknown key or a bad value', () => {
    expect(() => checkRequestScopeOptions({ tag: () => ({}) }, 'batonMiddleware')).toThrow(
      'batonMiddleware: tag is not an option',
    );
    expect(() => checkRequestScopeOptions({ context: 'always' }, 'batonPlugin')).toThrow(/context must be 'continue'/);
    expect(() => checkRequestScopeOptions({ tagsHeader: '' }, 'batonMiddleware')).toThrow(/tagsHeader must be/);
    expect(() => checkRequestScopeOptions({ tags: () => ({}), tagsHeader: false, trace: true }, 'x')).not.toThrow();
  });
});
