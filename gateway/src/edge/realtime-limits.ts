import { env } from '@insta/infra';

/**
 * Settings of the realtime edge (ADR 16, README "Realtime: transports, limits and close codes"): what one
 * connection (a websocket, or one HTTP subscription stream) may hold, how many a user and an address may keep
 * open on one gateway instance, how a session's expiry is handled, and the keep-alives.
 */
export const realtimeEdgeEnv = {
  /** Subscriptions one websocket may hold at once; one more is refused with TOO_MANY_SUBSCRIPTIONS. */
  REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: env.int(50, 1),
  /** Connections (websockets + HTTP subscription streams) one signed-in user may hold per gateway; 0: no cap. */
  REALTIME_MAX_CONNECTIONS_PER_USER: env.int(20, 0),
  /** Connections from one client address per gateway (NATs share one); 0: no cap. */
  REALTIME_MAX_CONNECTIONS_PER_IP: env.int(1_000, 0),
  /**
   * After the access token of a connection expires, its operations are refused with UNAUTHENTICATED; this long
   * after, the connection is closed (4440 Session Expired) so a client that never reconnects does not linger.
   */
  REALTIME_EXPIRED_GRACE_MS: env.int(60_000, 0),
  /** Interval of the server's websocket pings (a socket that misses a pong for as long is dropped); 0: none. */
  WS_KEEPALIVE_MS: env.int(25_000, 0),
  /** Interval of the `{}` heartbeat parts of a multipart HTTP subscription (Apollo's protocol says ~5 s). */
  HTTP_SUBSCRIPTION_HEARTBEAT_MS: env.int(5_000, 10),
};

export interface RealtimeLimits {
  REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: number;
  REALTIME_MAX_CONNECTIONS_PER_USER: number;
  REALTIME_MAX_CONNECTIONS_PER_IP: number;
  REALTIME_EXPIRED_GRACE_MS: number;
}
