import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers.ts';

describe('gateway HTTP surface in development', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(() => t.close());

  it('should block a GET query without a preflight header (CSRF prevention)', async () => {
    const response = await fetch(`${t.gateway.url}?query=${encodeURIComponent('{ seen { userId } }')}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/);
  });

  it('should block a form-encoded POST (CSRF prevention)', async () => {
    const response = await fetch(t.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ seen { userId } }' }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/);
  });

  it('should refuse a mutation sent with GET', async () => {
    const response = await fetch(`${t.gateway.url}?query=${encodeURIComponent('mutation { touch }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(405);
  });

  it('should run a query sent with GET and a preflight header', async () => {
    const response = await fetch(`${t.gateway.url}?query=${encodeURIComponent('{ seen { userId } }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { seen: { userId: null } } });
  });

  it('should allow introspection and suggest field names outside production', async () => {
    const introspection = await t.post({ query: '{ __schema { queryType { name } } }' });
    expect(introspection.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const typo = await t.post({ query: '{ sen { userId } }' });
    expect(typo.body.errors?.[0]?.message).toMatch(/Did you mean "seen"/);
  });

  it('should answer /healthz and, while the store answers, /readyz', async () => {
    const base = new URL(t.gateway.url).origin;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    t.kv.ping = () => Promise.reject(new Error('connection lost'));
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it('should not serve an explorer when EXPLORER=false', async () => {
    const base = new URL(t.gateway.url).origin;
    expect((await fetch(`${base}/explorer`)).status).toBe(404);
  });
});

describe('gateway HTTP surface in production', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ NODE_ENV: 'production', EXPLORER: '' });
  });
  afterAll(() => t.close());

  it('should turn introspection off', async () => {
    const { status, body } = await t.post({ query: '{ __schema { queryType { name } } }' });
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('should not suggest field names', async () => {
    const { body } = await t.post({ query: '{ sen { userId } }' });
    expect(body.errors?.[0]?.message).toBe('Cannot query field "sen" on type "Query".');
  });

  it('should not serve the explorer', async () => {
    const base = new URL(t.gateway.url).origin;
    expect((await fetch(`${base}/explorer`)).status).toBe(404);
    const page = await fetch(t.gateway.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).not.toMatch(/text\/html/);
  });
});
