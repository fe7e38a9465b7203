import { CloseCode } from 'graphql-ws';
import { ErrorCode } from '@insta/infra';

/**
 * Every code the gateway closes a realtime connection with (README "Realtime: transports, limits and close
 * codes"). graphql-ws's own protocol codes (4400 Bad Request, 4408 init timeout, 4409 duplicate id, 4429 second
 * connection_init…) keep their meaning; these are the ones the gateway itself decides.
 */
export enum RealtimeCloseCode {
  /** Going Away: the gateway is stopping; reconnect (to another instance). */
  GoingAway = 1001,
  /** Try Again Later: the session cannot be checked right now (revocations unknown); reconnect later. */
  TryAgainLater = 1013,
  /**
   * graphql-ws Forbidden: the token of `connection_init` is invalid or expired, or the session was revoked
   * (sign-out, refresh-token reuse): sent at once, on every gateway instance. Do not reconnect with that token.
   */
  Forbidden = CloseCode.Forbidden,
  /**
   * The access token expired and REALTIME_EXPIRED_GRACE_MS passed without the client reconnecting: reconnect
   * with a fresh token (the graphql-ws client retries this code; give it `connectionParams` as a function).
   */
  SessionExpired = 4440,
  /** The user already holds REALTIME_MAX_CONNECTIONS_PER_USER connections on this gateway. */
  TooManyConnectionsForUser = 4441,
  /** The client address already holds REALTIME_MAX_CONNECTIONS_PER_IP connections on this gateway. */
  TooManyConnectionsFromAddress = 4442,
}

/** `extensions.code` of a subscription refused because its socket already holds the maximum. */
export const TOO_MANY_SUBSCRIPTIONS = ErrorCode.TooManySubscriptions;
/** `extensions.code` of a connection refused (HTTP 429) because of a per-user or per-address cap. */
export const TOO_MANY_CONNECTIONS = ErrorCode.TooManyConnections;
