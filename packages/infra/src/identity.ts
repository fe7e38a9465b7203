import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';

/**
 * Gateway → subgraph (and subgraph → subgraph) trust. The gateway verifies the caller's access token once and
 * forwards who the caller is in one header, signed with a secret shared by the gateway and the subgraphs:
 *
 *   x-gateway-identity: v2.<unix seconds>.<base64url(JSON principal) or "-">.<base64url(HMAC-SHA256)>
 *
 * The MAC covers the version, the timestamp, the principal, the **audience** (the name of the subgraph the
 * request is for), the SHA-256 of the request (its path with query string, and its body) and, when the request
 * carries one, the client address the gateway resolved (`x-client-ip`, which the users subgraph's sign-in limits
 * trust). A captured header
 * is therefore good only for that one request to that one subgraph, within the skew window. Subgraphs answer
 * 401 to a header that is missing, forged, stale, or signed for another subgraph or another request
 * (docs/adr/0003-gateway-subgraph-trust.md).
 */
export const IDENTITY_HEADER = 'x-gateway-identity';

export interface Identity {
  /** The signed-in user's id. */
  userId: string;
  /** The session (refresh-token family) the access token belongs to. */
  sessionId: string;
}

/** Another subgraph calling for internal (`@inaccessible`) fields; never a user's request. */
export interface ServicePrincipal {
  service: string;
}

/** Who signs: a signed-in user, an anonymous client (null; both through the gateway), or a service. */
export type Principal = Identity | ServicePrincipal | null;

/** The request a header is signed for. `path` includes the query string; `body` is the exact bytes sent. */
export interface SignedRequest {
  audience: string;
  path: string;
  body: string;
  /** The `x-client-ip` header sent with the request, if any (absent and empty are different requests). */
  clientIp?: string;
}

export type VerifyResult =
  | { ok: true; identity: Identity | null; service: string | null }
  | { ok: false; reason: string };

const isService = (p: Principal): p is ServicePrincipal => p !== null && 'service' in p;

function mac(secret: string, head: string, request: SignedRequest): string {
  const digest = createHash('sha256').update(request.path).update('\n').update(request.body).digest('base64url');
  // The address is last, after a digest that has no dots: no other audience, digest and address read the same.
  const client = request.clientIp === undefined ? '' : `.${request.clientIp}`;
  return createHmac('sha256', secret).update(`${head}.${request.audience}.${digest}${client}`).digest('base64url');
}

export function encodePrincipal(principal: Principal): string {
  if (principal === null) return '-';
  const claim = isService(principal) ? { svc: principal.service } : { u: principal.userId, s: principal.sessionId };
  return Buffer.from(JSON.stringify(claim)).toString('base64url');
}

/** Signs an already encoded principal (`encodePrincipal`) for one request. */
export function signEncodedPrincipal(
  secret: string,
  payload: string,
  request: SignedRequest,
  nowMs = Date.now(),
): string {
  const head = `v2.${Math.floor(nowMs / 1000)}.${payload}`;
  return `${head}.${mac(secret, head, request)}`;
}

export function signIdentity(secret: string, principal: Principal, request: SignedRequest, nowMs = Date.now()): string {
  return signEncodedPrincipal(secret, encodePrincipal(principal), request, nowMs);
}

export function verifyIdentity(
  secret: string,
  header: string | undefined,
  request: SignedRequest,
  maxSkewSeconds: number,
  nowMs = Date.now(),
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing gateway signature' };
  const parts = header.split('.');
  if (parts.length !== 4 || parts[0] !== 'v2') return { ok: false, reason: 'malformed gateway signature' };
  const [, tsRaw, payload, signature] = parts as [string, string, string, string];
  const expected = Buffer.from(mac(secret, `v2.${tsRaw}.${payload}`, request));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad gateway signature' };
  }
  const ts = Number(tsRaw);
  if (!Number.isInteger(ts) || Math.abs(nowMs / 1000 - ts) > maxSkewSeconds) {
    return { ok: false, reason: 'stale gateway signature' };
  }
  if (payload === '-') return { ok: true, identity: null, service: null };
  try {
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      u?: unknown;
      s?: unknown;
      svc?: unknown;
    };
    if (typeof decoded.svc === 'string' && decoded.u === undefined)
      return { ok: true, identity: null, service: decoded.svc };
    if (typeof decoded.u !== 'string' || typeof decoded.s !== 'string') {
      return { ok: false, reason: 'malformed identity' };
    }
    return { ok: true, identity: { userId: decoded.u, sessionId: decoded.s }, service: null };
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

/** The path and query string of a URL, as a subgraph sees it in `req.url`. */
export const requestPath = (url: string) => {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
};
