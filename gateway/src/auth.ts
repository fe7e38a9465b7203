import type { IncomingHttpHeaders } from 'node:http';
import { GraphQLError } from 'graphql';
import { ErrorCode, verifyAccessToken, type AccessTokenResult, type Identity } from '@insta/infra';
import { Lru } from './cache/lru.ts';

/**
 * Who is calling: `Authorization: Bearer <access token>`, checked once here. No header means anonymous; a bad,
 * expired or revoked token fails the whole request with 401 UNAUTHENTICATED (a client that sent a token expects
 * to be signed in, and silently serving it anonymous data hides the need to refresh). When revocation cannot be
 * checked (`isRevoked` rejects with SERVICE_UNAVAILABLE), the request fails closed with that error (ADR 10).
 */
function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.Unauthenticated, http: { status: 401 } },
  });
}

type Verified = Extract<AccessTokenResult, { ok: true }>;

/** Access tokens this process verified, per signing secret: a client sends the same token until it refreshes. */
const verifiedTokens = new Map<string, Lru<string, Verified>>();
const VERIFIED_TOKENS_PER_SECRET = 20_000;

/**
 * `verifyAccessToken`, remembering the tokens that passed. The signature, issuer and audience of a token string
 * cannot change, so a token verified once is not verified again (the HMAC through WebCrypto was ~7% of the
 * gateway's CPU in the one-hop bench); its expiry is checked on every use as jose checks it (expired once
 * `exp` <= now in seconds). Only tokens that passed are kept, bounded per secret (least recently used first out),
 * and revocation is checked by the caller on every request as before.
 */
export async function verifyAccessTokenOnce(
  secret: string,
  token: string,
  now = Date.now(),
): Promise<AccessTokenResult> {
  let tokens = verifiedTokens.get(secret);
  const known = tokens?.get(token);
  if (known) {
    if (known.expiresAt > Math.floor(now / 1000)) return known;
    tokens?.delete(token);
    return { ok: false, reason: 'expired' };
  }
  const result = await verifyAccessToken(secret, token);
  if (!result.ok) return result;
  if (!tokens) verifiedTokens.set(secret, (tokens = new Lru(VERIFIED_TOKENS_PER_SECRET)));
  tokens.set(token, result);
  return result;
}

export async function authenticate(
  headers: IncomingHttpHeaders | { authorization?: string | undefined },
  jwtSecret: string,
  isRevoked: (sessionId: string) => Promise<boolean>,
): Promise<Identity | null> {
  return (await authenticateSession(headers, jwtSecret, isRevoked))?.identity ?? null;
}

/** The same, with when the access token expires (epoch ms): realtime connections outlive a request (ADR 16). */
export async function authenticateSession(
  headers: IncomingHttpHeaders | { authorization?: string | undefined },
  jwtSecret: string,
  isRevoked: (sessionId: string) => Promise<boolean>,
): Promise<{ identity: Identity; expiresAt: number } | null> {
  const header = headers.authorization;
  if (header === undefined || header === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw unauthenticated('The Authorization header must be "Bearer <access token>"');
  const result = await verifyAccessTokenOnce(jwtSecret, match[1]);
  if (!result.ok) {
    throw unauthenticated(result.reason === 'expired' ? 'The access token has expired' : 'The access token is invalid');
  }
  if (await isRevoked(result.identity.sessionId)) {
    throw unauthenticated('The session has been signed out');
  }
  return { identity: result.identity, expiresAt: result.expiresAt * 1000 };
}
