import type { IncomingHttpHeaders } from 'node:http';
import { GraphQLError } from 'graphql';
import { ErrorCode, verifyAccessToken, type Identity } from '@insta/infra';

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
  const result = await verifyAccessToken(jwtSecret, match[1]);
  if (!result.ok) {
    throw unauthenticated(result.reason === 'expired' ? 'The access token has expired' : 'The access token is invalid');
  }
  if (await isRevoked(result.identity.sessionId)) {
    throw unauthenticated('The session has been signed out');
  }
  return { identity: result.identity, expiresAt: result.expiresAt * 1000 };
}
