import { createHmac, timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';

/**
 * Gateway → subgraph trust. The gateway verifies the caller's access token once and forwards who the caller
 * is in one header, signed with a secret shared by the gateway and the subgraphs:
 *
 *   x-gateway-identity: v1.<unix seconds>.<base64url(JSON identity) or "-">.<base64url(HMAC-SHA256)>
 *
 * The MAC covers everything before it. Subgraphs answer 401 to a request whose header is missing, forged or
 * older than the allowed skew (see docs/adr/0003-gateway-subgraph-trust.md).
 */
export const IDENTITY_HEADER = 'x-gateway-identity';

export interface Identity {
  /** The signed-in user's id. */
  userId: string;
  /** The session (refresh-token family) the access token belongs to. */
  sessionId: string;
}

export type VerifyResult = { ok: true; identity: Identity | null } | { ok: false; reason: string };

function mac(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

export function signIdentity(secret: string, identity: Identity | null, nowMs = Date.now()): string {
  const ts = Math.floor(nowMs / 1000);
  const payload = identity
    ? Buffer.from(JSON.stringify({ u: identity.userId, s: identity.sessionId })).toString('base64url')
    : '-';
  const head = `v1.${ts}.${payload}`;
  return `${head}.${mac(secret, head)}`;
}

export function verifyIdentity(
  secret: string,
  header: string | undefined,
  maxSkewSeconds: number,
  nowMs = Date.now(),
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing gateway signature' };
  const parts = header.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return { ok: false, reason: 'malformed gateway signature' };
  const [, tsRaw, payload, signature] = parts as [string, string, string, string];
  const expected = Buffer.from(mac(secret, `v1.${tsRaw}.${payload}`));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad gateway signature' };
  }
  const ts = Number(tsRaw);
  if (!Number.isInteger(ts) || Math.abs(nowMs / 1000 - ts) > maxSkewSeconds) {
    return { ok: false, reason: 'stale gateway signature' };
  }
  if (payload === '-') return { ok: true, identity: null };
  try {
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u?: unknown; s?: unknown };
    if (typeof decoded.u !== 'string' || typeof decoded.s !== 'string') {
      return { ok: false, reason: 'malformed identity' };
    }
    return { ok: true, identity: { userId: decoded.u, sessionId: decoded.s } };
  } catch {
    return { ok: false, reason: 'malformed identity' };
  }
}

/** The signed-in caller, or UNAUTHENTICATED. */
export function requireIdentity(identity: Identity | null): Identity {
  if (!identity) {
    throw new GraphQLError('You must be signed in', { extensions: { code: 'UNAUTHENTICATED' } });
  }
  return identity;
}

/**
 * `signIdentity` for a hot path: the anonymous header depends only on the current second, so it is signed once
 * per second and reused.
 */
export function identitySigner(secret: string): (identity: Identity | null) => string {
  let anonymous = { second: -1, header: '' };
  return (identity) => {
    if (identity) return signIdentity(secret, identity);
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== anonymous.second) anonymous = { second, header: signIdentity(secret, null, now) };
    return anonymous.header;
  };
}
