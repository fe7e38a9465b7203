import { webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Identity } from './identity.ts';

/**
 * Access tokens: short-lived HS256 JWTs issued by the users subgraph and verified by the gateway.
 * `sub` is the user id, `sid` the session (refresh-token family) so a sign-out can revoke them early.
 */
export const ACCESS_TOKEN_ISSUER = 'insta-users';
export const ACCESS_TOKEN_AUDIENCE = 'insta-gateway';

/**
 * The HMAC key of a secret, imported once: given raw bytes, jose imports a WebCrypto key on every sign and verify
 * (1.3% of the gateway's CPU, one verification per request; ADR 19).
 */
const keyCache = new Map<string, Promise<webcrypto.CryptoKey>>();
function key(secret: string): Promise<webcrypto.CryptoKey> {
  let k = keyCache.get(secret);
  if (!k) {
    k = webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keyCache.set(secret, k);
  }
  return k;
}

export async function issueAccessToken(secret: string, identity: Identity, ttlSeconds: number): Promise<string> {
  return new SignJWT({ sid: identity.sessionId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(identity.userId)
    .setIssuer(ACCESS_TOKEN_ISSUER)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(await key(secret));
}

export type AccessTokenResult =
  | { ok: true; identity: Identity; expiresAt: number }
  | { ok: false; reason: 'expired' | 'invalid' };

export async function verifyAccessToken(secret: string, token: string): Promise<AccessTokenResult> {
  try {
    const { payload } = await jwtVerify(token, await key(secret), {
      algorithms: ['HS256'],
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
    });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, identity: { userId: payload.sub, sessionId: payload.sid }, expiresAt: payload.exp };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'invalid' };
  }
}

/** Redis/KV key marking a session as revoked, checked by the gateway on every authenticated request. */
export const revokedSessionKey = (sessionId: string) => `auth:revoked-session:${sessionId}`;
