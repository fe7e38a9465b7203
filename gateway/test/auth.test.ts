import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken, revokedSessionKey } from '@insta/infra';
import { verifyAccessTokenOnce } from '../src/auth.ts';
import { accessToken, startTestGateway, type TestGateway } from './helpers.ts';

const SEEN = '{ seen { userId sessionId } }';

describe('gateway authentication and subgraph identity', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(() => t.close());

  it('should forward the caller identity to subgraphs in a signed header', async () => {
    const token = await accessToken({ userId: 'u1', sessionId: 's1' });
    const { status, body } = await t.post({ query: SEEN }, { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { seen: { userId: 'u1', sessionId: 's1' } } });
  });

  it('should sign a null identity for anonymous requests', async () => {
    const { status, body } = await t.post({ query: SEEN });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { seen: { userId: null, sessionId: null } } });
  });

  it.each([
    [
      'expired',
      () => accessToken({ userId: 'u1', sessionId: 's1' }, { expiresAt: Math.floor(Date.now() / 1000) - 10 }),
    ],
    [
      'forged',
      () => accessToken({ userId: 'u1', sessionId: 's1' }, { secret: 'another-secret-0123456789abcdef0123456789' }),
    ],
    ['malformed', async () => 'not-a-jwt'],
  ])('should reject an %s access token with UNAUTHENTICATED', async (_, token) => {
    const { status, body } = await t.post({ query: SEEN }, { authorization: `Bearer ${await token()}` });
    expect(status).toBe(401);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('should reject a token whose session was revoked', async () => {
    await t.kv.set(revokedSessionKey('s-revoked'), '1');
    const token = await accessToken({ userId: 'u1', sessionId: 's-revoked' });
    const { status, body } = await t.post({ query: SEEN }, { authorization: `Bearer ${token}` });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(body.errors?.[0]?.message).toMatch(/signed out/);
  });

  it('should reject an Authorization header that is not a bearer token', async () => {
    const { status, body } = await t.post({ query: SEEN }, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('should forward client hint and request-id headers to subgraphs', async () => {
    const query = `{ seen {
      saveData: header(name: "save-data") dpr: header(name: "dpr") vw: header(name: "viewport-width")
      requestId: header(name: "x-request-id") cookie: header(name: "cookie") } }`;
    const { body } = await t.post(
      { query },
      { 'save-data': 'on', dpr: '2', 'viewport-width': '390', 'x-request-id': 'req-42', cookie: 'secret=1' },
    );
    expect(body).toEqual({
      data: { seen: { saveData: 'on', dpr: '2', vw: '390', requestId: 'req-42', cookie: null } },
    });
  });
});

describe('verified access tokens', () => {
  const secret = 'verified-tokens-secret-0123456789abcdef0123';
  const other = 'verified-tokens-other-0123456789abcdef01234';

  it('should answer a token verified before without a new verification, until it expires', async () => {
    const token = await issueAccessToken(secret, { userId: 'u1', sessionId: 's1' }, 60);
    const first = await verifyAccessTokenOnce(secret, token);
    expect(first).toMatchObject({ ok: true, identity: { userId: 'u1', sessionId: 's1' } });
    if (!first.ok) return;
    expect(await verifyAccessTokenOnce(secret, token)).toBe(first);
    // At its `exp` (seconds) the token is expired, as jose decides it.
    expect(await verifyAccessTokenOnce(secret, token, first.expiresAt * 1000 - 1)).toBe(first);
    expect(await verifyAccessTokenOnce(secret, token, first.expiresAt * 1000)).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('should not accept a token verified under another secret, nor remember a token that failed', async () => {
    const token = await issueAccessToken(other, { userId: 'u2', sessionId: 's2' }, 60);
    expect((await verifyAccessTokenOnce(other, token)).ok).toBe(true);
    expect(await verifyAccessTokenOnce(secret, token)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessTokenOnce(secret, token)).toEqual({ ok: false, reason: 'invalid' });
    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'AB' : 'AA'}`;
    expect(await verifyAccessTokenOnce(other, tampered)).toEqual({ ok: false, reason: 'invalid' });
  });
});
