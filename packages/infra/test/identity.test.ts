import { describe, expect, it } from 'vitest';
import { identitySigner, issueAccessToken, signIdentity, verifyAccessToken, verifyIdentity } from '../src/index.ts';

const secret = 'a-signing-secret-a-signing-secret-a-signing';
const identity = { userId: 'u-1', sessionId: 's-1' };

describe('identity header', () => {
  it('should verify what it signed, with or without an identity', () => {
    expect(verifyIdentity(secret, signIdentity(secret, identity), 60)).toEqual({ ok: true, identity });
    expect(verifyIdentity(secret, signIdentity(secret, null), 60)).toEqual({ ok: true, identity: null });
  });

  it('should reject a header signed with another secret, a tampered identity and a stale timestamp', () => {
    expect(verifyIdentity(secret, signIdentity('another-secret-another-secret-another', identity), 60).ok).toBe(false);
    const [v, ts, , mac] = signIdentity(secret, identity).split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ u: 'admin', s: 's-1' })).toString('base64url');
    expect(verifyIdentity(secret, [v, ts, forgedPayload, mac].join('.'), 60).ok).toBe(false);
    const old = signIdentity(secret, identity, Date.now() - 61_000);
    expect(verifyIdentity(secret, old, 60)).toEqual({ ok: false, reason: 'stale gateway signature' });
    expect(verifyIdentity(secret, undefined, 60)).toEqual({ ok: false, reason: 'missing gateway signature' });
  });

  it('should reuse the anonymous header within a second and sign identities each time', () => {
    const sign = identitySigner(secret);
    const first = sign(null);
    expect(verifyIdentity(secret, first, 60)).toEqual({ ok: true, identity: null });
    expect([first, sign(null)].every((h) => h.split('.')[1] === first.split('.')[1])).toBe(true);
    expect(verifyIdentity(secret, sign(identity), 60)).toEqual({ ok: true, identity });
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
