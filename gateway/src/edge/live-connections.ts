import type { Identity } from '@insta/infra';
import { RealtimeCloseCode } from './close-codes.ts';
import type { RealtimeLimits } from './realtime-limits.ts';

/** One realtime connection of a client: a websocket, or one multipart HTTP subscription stream. */
export interface LiveConnection {
  /** Null when anonymous. */
  identity: Identity | null;
  ip: string;
  /** Epoch ms when the access token of the connection expires; null when anonymous. */
  tokenExpiresAt: number | null;
  /** Ends the connection with this code and reason (idempotent). */
  close(code: RealtimeCloseCode, reason: string): void;
}

export type Admission =
  | { ok: true; release(): void }
  | {
      ok: false;
      code: RealtimeCloseCode.TooManyConnectionsForUser | RealtimeCloseCode.TooManyConnectionsFromAddress;
      reason: string;
    };

export const SESSION_REVOKED_REASON = 'The session has been signed out';
export const SESSION_EXPIRED_REASON = 'The access token has expired; reconnect with a fresh token';

/**
 * The realtime connections open on this gateway instance, indexed by session, user and address: the per-user and
 * per-address caps (counted per instance: ADR 16), the close of every connection of a revoked session at once,
 * and the close of a connection whose token expired REALTIME_EXPIRED_GRACE_MS ago.
 */
export class LiveConnections {
  private readonly bySession = new Map<string, Set<LiveConnection>>();
  private readonly perUser = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  private readonly expiryTimers = new Map<LiveConnection, NodeJS.Timeout>();

  constructor(
    private readonly limits: RealtimeLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts the connection in, or says which cap refuses it; `release()` (once) when it ends. */
  admit(connection: LiveConnection): Admission {
    const { identity, ip } = connection;
    const maxUser = this.limits.REALTIME_MAX_CONNECTIONS_PER_USER;
    const maxIp = this.limits.REALTIME_MAX_CONNECTIONS_PER_IP;
    if (identity && maxUser > 0 && (this.perUser.get(identity.userId) ?? 0) >= maxUser) {
      return {
        ok: false,
        code: RealtimeCloseCode.TooManyConnectionsForUser,
        reason: `At most ${maxUser} realtime connections per user`,
      };
    }
    if (maxIp > 0 && (this.perIp.get(ip) ?? 0) >= maxIp) {
      return {
        ok: false,
        code: RealtimeCloseCode.TooManyConnectionsFromAddress,
        reason: `At most ${maxIp} realtime connections per client address`,
      };
    }
    increment(this.perIp, ip);
    if (identity) {
      increment(this.perUser, identity.userId);
      let sessions = this.bySession.get(identity.sessionId);
      if (!sessions) this.bySession.set(identity.sessionId, (sessions = new Set()));
      sessions.add(connection);
    }
    if (connection.tokenExpiresAt !== null) this.scheduleExpiry(connection, connection.tokenExpiresAt);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.remove(connection);
      },
    };
  }

  /** Closes every connection of the session with 4403 at once; how many there were. */
  revokeSession(sessionId: string): number {
    const sessions = this.bySession.get(sessionId);
    if (!sessions) return 0;
    const connections = [...sessions];
    for (const connection of connections) connection.close(RealtimeCloseCode.Forbidden, SESSION_REVOKED_REASON);
    return connections.length;
  }

  /** Whether the connection's token has expired (its operations are then refused). */
  expired(connection: LiveConnection): boolean {
    return connection.tokenExpiresAt !== null && connection.tokenExpiresAt <= this.now();
  }

  /** Connections counted right now. */
  get size(): number {
    let size = 0;
    for (const count of this.perIp.values()) size += count;
    return size;
  }

  /** Clears the expiry timers (the connections themselves are closed by their transports). */
  stop(): void {
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
  }

  private scheduleExpiry(connection: LiveConnection, tokenExpiresAt: number) {
    const delay = Math.max(0, tokenExpiresAt + this.limits.REALTIME_EXPIRED_GRACE_MS - this.now());
    // setTimeout holds at most 2^31-1 ms (~24 days); access tokens live minutes.
    const timer = setTimeout(
      () => connection.close(RealtimeCloseCode.SessionExpired, SESSION_EXPIRED_REASON),
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.expiryTimers.set(connection, timer);
  }

  private remove(connection: LiveConnection) {
    const { identity, ip } = connection;
    decrement(this.perIp, ip);
    if (identity) {
      decrement(this.perUser, identity.userId);
      const sessions = this.bySession.get(identity.sessionId);
      sessions?.delete(connection);
      if (sessions?.size === 0) this.bySession.delete(identity.sessionId);
    }
    const timer = this.expiryTimers.get(connection);
    if (timer) {
      clearTimeout(timer);
      this.expiryTimers.delete(connection);
    }
  }
}

function increment(counts: Map<string, number>, key: string) {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, key: string) {
  const count = (counts.get(key) ?? 0) - 1;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}
