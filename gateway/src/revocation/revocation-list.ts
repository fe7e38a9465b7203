import { randomUUID } from 'node:crypto';
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  revokedSessionKey,
  serviceUnavailable,
  type InternalClient,
  type KeyValueStore,
  type Logger,
} from '@insta/infra';

export interface SessionRevocation {
  sessionId: string;
  /** Epoch ms after which the session's access tokens have all expired, so the revocation no longer matters. */
  expiresAt: number;
}

/** Where revocations are durable: the users subgraph's `sessions.revoked_at`. */
export interface RevocationSource {
  /** Revoked after `since` (all that still matter when null); `asOf` is the source's clock. */
  revokedSince(since: Date | null): Promise<{ asOf: Date; sessions: SessionRevocation[] }>;
}

const SESSION_REVOCATIONS = /* GraphQL */ `
  query SessionRevocations($since: DateTime) {
    sessionRevocations(since: $since) {
      asOf
      sessions {
        sessionId
        expiresAt
      }
    }
  }
`;

/** The users subgraph's internal `sessionRevocations`, through an internal client (breaker, timeout, retries). */
export function usersRevocationSource(client: InternalClient): RevocationSource {
  return {
    async revokedSince(since) {
      const data = await client.query<{
        sessionRevocations: { asOf: string; sessions: { sessionId: string; expiresAt: string }[] };
      }>(SESSION_REVOCATIONS, { since: since?.toISOString() ?? null });
      const { asOf, sessions } = data.sessionRevocations;
      return {
        asOf: new Date(asOf),
        sessions: sessions.map((s) => ({ sessionId: s.sessionId, expiresAt: Date.parse(s.expiresAt) })),
      };
    },
  };
}

/** Revocations committed a little before the previous `asOf` may not have been visible to it yet. */
const SYNC_OVERLAP_MS = 5_000;
/** How long a sync marker outlives the last sync that wrote it. */
const SYNC_MARKER_TTL_MS = 24 * 3_600_000;

/**
 * The Redis key written just before sync number `generation` of one gateway process asks users: while it exists,
 * Redis has not lost its data since before that sync's snapshot.
 */
export const revocationSyncKey = (instanceId: string, generation: number) =>
  `auth:revocation-sync:${instanceId}:${generation}`;

export interface RevocationListOptions {
  source: RevocationSource;
  kv: Pick<KeyValueStore, 'exists' | 'existsMany' | 'set' | 'del'>;
  intervalMs: number;
  maxStalenessMs: number;
  logger: Logger;
  /** Called with each session a sync finds revoked that the list did not hold yet (the socket closer, ADR 16). */
  onRevoked?(sessionId: string): void;
}

/**
 * Whether a session has been signed out or revoked, without trusting Redis alone (ADR 10).
 *
 * The users subgraph marks a revoked session in Redis (the fast path, seen at once by every gateway) and in
 * Postgres. This list copies the Postgres side into memory: everything that still matters at start, then what is
 * new every `intervalMs`. A session is revoked if either says so. Redis markers are only complete if Redis kept
 * its data since the list's last snapshot: the sync marker this gateway writes there just before each sync proves
 * it (a flush, or a failover to an empty replica, removes it). Without it, the list is brought up to date before
 * answering; with Redis unreachable, the list answers alone while it is at most `maxStalenessMs` old. When
 * neither can answer, the request fails closed with SERVICE_UNAVAILABLE.
 */
export class RevocationList {
  private readonly revoked = new Map<string, number>();
  private readonly instanceId = randomUUID();
  private generation = 0;
  /** The marker of the last successful sync, null when it could not be written. */
  private markerKey: string | null = null;
  private syncedAt = 0;
  private asOf: Date | null = null;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RevocationListOptions) {}

  /** Starts syncing; resolves after the first attempt (which may fail: the list then fails closed until one works). */
  async start(): Promise<void> {
    await this.sync();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** True when revoked; rejects with SERVICE_UNAVAILABLE when that cannot be known. */
  async isRevoked(sessionId: string): Promise<boolean> {
    if (this.listed(sessionId)) return true;
    let marked: boolean;
    let intact: boolean;
    try {
      [marked, intact] = await Promise.all([
        this.options.kv.exists(revokedSessionKey(sessionId)),
        this.markersComplete(),
      ]);
    } catch (error) {
      // Redis unreachable: the list alone answers, as long as it is recent enough.
      this.options.logger.warn({ err: error }, 'revocation markers unreadable; relying on the revocation list');
      if (this.fresh()) return false;
      throw this.unknown();
    }
    if (marked) return true;
    // Redis kept every marker written since the list's last snapshot, and the list has everything before it.
    if (intact) return false;
    // Redis lost its data since then (a flush, a failover to an empty replica): markers of sessions revoked
    // meanwhile are gone, so bring the list up to date first (one call to users, shared by concurrent requests).
    await this.sync();
    if (this.listed(sessionId)) return true;
    if (await this.markersComplete().catch(() => false)) return false;
    throw this.unknown();
  }

  /**
   * `isRevoked` for many sessions at once (the viewers of one subscription event): the revoked ones among them, in
   * one Redis round trip; rejects with SERVICE_UNAVAILABLE when that cannot be known.
   */
  async revokedAmong(sessionIds: readonly string[]): Promise<Set<string>> {
    const revoked = new Set(sessionIds.filter((id) => this.listed(id)));
    const rest = sessionIds.filter((id) => !revoked.has(id));
    if (rest.length === 0) return revoked;
    let marked: boolean[];
    let intact: boolean;
    try {
      [marked, intact] = await Promise.all([
        this.options.kv.existsMany(rest.map(revokedSessionKey)),
        this.markersComplete(),
      ]);
    } catch {
      // As isRevoked: the list alone, if recent enough, or one at a time (which fails closed).
      return this.revokedOneByOne(revoked, rest);
    }
    rest.forEach((id, i) => marked[i] && revoked.add(id));
    if (intact) return revoked;
    return this.revokedOneByOne(revoked, rest);
  }

  private async revokedOneByOne(revoked: Set<string>, rest: readonly string[]) {
    const answers = await Promise.all(rest.map((id) => this.isRevoked(id)));
    rest.forEach((id, i) => answers[i] && revoked.add(id));
    return revoked;
  }

  /** For /readyz: rejects when authenticated requests would be refused. */
  async ready(): Promise<void> {
    if (await this.markersComplete()) return;
    if (this.fresh()) return;
    throw new Error(this.syncedAt ? 'revocation list stale and Redis lost its markers' : 'revocation list not loaded');
  }

  /**
   * A revocation heard on the bus (`users.session.revoked`): listed at once, before Redis or the next sync would
   * tell. Adding is always safe: the list only ever errs towards revoked.
   */
  add(sessionId: string, expiresAt: number): void {
    if (expiresAt > Date.now()) this.revoked.set(sessionId, expiresAt);
  }

  private listed(sessionId: string): boolean {
    const expiresAt = this.revoked.get(sessionId);
    return expiresAt !== undefined && expiresAt > Date.now();
  }

  /** Redis still holds every marker written since the last successful sync's snapshot. */
  private async markersComplete(): Promise<boolean> {
    if (!this.markerKey) return false;
    return this.options.kv.exists(this.markerKey);
  }

  private fresh(): boolean {
    return this.syncedAt > 0 && Date.now() - this.syncedAt <= this.options.maxStalenessMs;
  }

  private unknown() {
    const seconds = Math.max(DEFAULT_RETRY_AFTER_SECONDS, Math.ceil(this.options.intervalMs / 1000));
    const error = serviceUnavailable('Sessions cannot be checked right now; try again later', seconds);
    error.extensions.http = { status: 503, headers: new Map([['retry-after', String(seconds)]]) };
    return error;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.sync().finally(() => this.schedule()), this.options.intervalMs);
    this.timer.unref();
  }

  /** One sync; concurrent callers share it. Never rejects (a failure is logged and the list goes stale). */
  sync(): Promise<void> {
    return (this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined)));
  }

  private async syncOnce(): Promise<void> {
    const started = Date.now();
    // Written before asking, so that its existence later proves Redis kept everything since this snapshot.
    const key = revocationSyncKey(this.instanceId, ++this.generation);
    const marked = await this.options.kv.set(key, String(started), SYNC_MARKER_TTL_MS).then(
      () => true,
      (error: unknown) => {
        this.options.logger.warn({ err: error }, 'could not write the revocation sync marker');
        return false;
      },
    );
    try {
      const since = this.asOf ? new Date(this.asOf.getTime() - SYNC_OVERLAP_MS) : null;
      const { asOf, sessions } = await this.options.source.revokedSince(since);
      const now = Date.now();
      for (const [id, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(id);
      const added: string[] = [];
      for (const s of sessions) {
        if (s.expiresAt <= now) continue;
        if (!this.revoked.has(s.sessionId)) added.push(s.sessionId);
        this.revoked.set(s.sessionId, s.expiresAt);
      }
      // The first sync lists what was revoked before this process started: no connection can be open yet.
      if (this.asOf && this.options.onRevoked) for (const id of added) this.options.onRevoked(id);
      this.asOf = asOf;
      this.syncedAt = started;
      const previous = this.markerKey;
      this.markerKey = marked ? key : null;
      if (previous) await this.options.kv.del(previous).catch(() => undefined);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'revocation list sync failed');
      if (marked) await this.options.kv.del(key).catch(() => undefined);
    }
  }
}
