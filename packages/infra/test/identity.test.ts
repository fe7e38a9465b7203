import { describe, expect, it } from 'vitest';
import { issueAccessToken, signIdentity, verifyAccessToken, verifyIdentity } from '../src/index.ts';

const secret = 'a-signing-secret-a-signing-secret-a-signing';
const identity = { userId: 'u-1', sessionId: 's-1' };
const request = { audience: 'posts', path: '/graphql', body: '{"query":"{ me { id } }"}' };

describe('identity header', () => {
  it('should verify what it signed: a user, an anonymous client or a service', () => {
    expect(verifyIdentity(secret, signIdentity(secret, identity, request), request, 15)).toEqual({
      ok: true,
      identity,
      service: null,
    });
    expect(verifyIdentity(secret, signIdentity(secret, null, request), request, 15)).toEqual({
      ok: true,
      identity: null,
      service: null,
    });
    expect(verifyIdentity(secret, signIdentity(secret, { service: 'feed' }, request), request, 15)).toEqual({
      ok: true,
      identity: null,
      service: 'feed',
    });
  });

  it('should reject a header signed with another secret, a tampered identity and a stale timestamp', () => {
    expect(
      verifyIdentity(secret, signIdentity('another-secret-another-secret-another', identity, request), request, 15).ok,
    ).toBe(false);
    const [v, ts, , mac] = signIdentity(secret, identity, request).split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ svc: 'posts' })).toString('base64url');
    expect(verifyIdentity(secret, [v, ts, forgedPayload, mac].join('.'), request, 15).ok).toBe(false);
    const old = signIdentity(secret, identity, request, Date.now() - 16_000);
    expect(verifyIdentity(secret, old, request, 15)).toEqual({ ok: false, reason: 'stale gateway signature' });
    expect(verifyIdentity(secret, undefined, request, 15)).toEqual({ ok: false, reason: 'missing gateway signature' });
  });

  it('should reject a header used for another subgraph, another path or another body', () => {
    const header = signIdentity(secret, identity, request);
    expect(verifyIdentity(secret, header, { ...request, audience: 'users' }, 15)).toEqual({
      ok: false,
      reason: 'bad gateway signature',
    });
    expect(verifyIdentity(secret, header, { ...request, path: '/graphql?x=1' }, 15).ok).toBe(false);
    expect(
      verifyIdentity(secret, header, { ...request, body: '{"query":"mutation { deletePost(id: 1) }"}' }, 15).ok,
    ).toBe(false);
  });

  it('should bind the forwarded client address: not changed, added or removed', () => {
    const withIp = { ...request, clientIp: '198.51.100.7' };
    const header = signIdentity(secret, identity, withIp);
    expect(verifyIdentity(secret, header, withIp, 15).ok).toBe(true);
    expect(verifyIdentity(secret, header, { ...withIp, clientIp: '203.0.113.9' }, 15).ok).toBe(false);
    expect(verifyIdentity(secret, header, { ...withIp, clientIp: '198.51.100.7, 203.0.113.9' }, 15).ok).toBe(false);
    expect(verifyIdentity(secret, header, request, 15).ok).toBe(false);
    expect(verifyIdentity(secret, signIdentity(secret, identity, request), withIp, 15).ok).toBe(false);
    expect(verifyIdentity(secret, signIdentity(secret, identity, request), { ...request, clientIp: '' }, 15).ok).toBe(
      false,
    );
  });

  it('should refuse the v1 format that carried no audience or body hash', () => {
    const v1 = signIdentity(secret, identity, request).replace(/^v2\./, 'v1.');
    expect(verifyIdentity(secret, v1, request, 15)).toEqual({ ok: false, reason: 'malformed gateway signature' });
  });
});

describe('access tokens', () => {
  it('should round-trip the user and session', async () => {
    const token = await issueAccessToken(secret, identity, 60);
    expect(await verifyAccessToken(secret, token)).toMatchObject({ ok: true, identity });
  });

  it('should tell expired tokens from forged ones', async () => {
    const expired = await issueAccessToken(secret, identity, -10);
    expect(await verifyAccessToken(secret, expired)).toEqual({ ok: false, reason: 'expired' });
    const forged = await issueAccessToken('another-secret-another-secret-another', identity, 60);
    expect(await verifyAccessToken(secret, forged)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(secret, 'not.a.jwt')).toEqual({ ok: false, reason: 'invalid' });
  });
});
