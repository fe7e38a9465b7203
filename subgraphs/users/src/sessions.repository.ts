import { outboxRow, type PrismaClient } from '@insta/db';
import { UsersSubjects, type SessionRevokedEvent } from '@insta/events';

export type RotationResult =
  | { kind: 'rotated'; userId: string; sessionId: string }
  | { kind: 'reused'; sessionId: string }
  | { kind: 'invalid' };

/**
 * The only code that touches users.sessions and users.refresh_tokens (and writes their events to users.outbox).
 * Tokens arrive here already hashed.
 */
export class SessionsRepository {
  constructor(
    private readonly db: PrismaClient,
    /** Wakes the outbox relay after a transaction that wrote an event committed. */
    private readonly afterCommit: () => void = () => undefined,
  ) {}

  async create(userId: string, tokenHash: string, expiresAt: Date): Promise<{ sessionId: string }> {
    const session = await this.db.session.create({
      data: { userId, expiresAt, refreshTokens: { create: { tokenHash, expiresAt } } },
      select: { id: true },
    });
    return { sessionId: session.id };
  }

  /**
   * Marks the presented token used and stores its successor, atomically: of two concurrent uses of one token
   * only one can flip `rotated_at`. A token that was already rotated is reuse: the caller revokes the family.
   */
  rotate(tokenHash: string, nextHash: string, now: Date, expiresAt: Date): Promise<RotationResult> {
    return this.db.$transaction(async (tx) => {
      const token = await tx.refreshToken.findUnique({
        where: { tokenHash },
        select: {
          sessionId: true,
          expiresAt: true,
          session: { select: { userId: true, revokedAt: true, expiresAt: true } },
        },
      });
      if (!token || token.session.revokedAt || token.session.expiresAt <= now || token.expiresAt <= now) {
        return { kind: 'invalid' } as const;
      }
      const flipped = await tx.refreshToken.updateMany({
        where: { tokenHash, rotatedAt: null },
        data: { rotatedAt: now },
      });
      if (flipped.count === 0) return { kind: 'reused', sessionId: token.sessionId } as const;
      await tx.refreshToken.create({ data: { tokenHash: nextHash, sessionId: token.sessionId, expiresAt } });
      return { kind: 'rotated', userId: token.session.userId, sessionId: token.sessionId } as const;
    });
  }

  /**
   * Revokes a session (refresh-token family); true when it was active. The `users.session.revoked` event is
   * written in the same transaction, so every gateway hears of it (and closes the session's sockets) once.
   */
  async revoke(sessionId: string, reason: 'SIGN_OUT' | 'REUSE', now: Date, tokensExpireAt: Date): Promise<boolean> {
    const revoked = await this.db.$transaction(async (tx) => {
      const result = await tx.session.updateMany({
        where: { id: sessionId, revokedAt: null },
        data: { revokedAt: now, revokedReason: reason },
      });
      if (result.count !== 1) return false;
      const session = await tx.session.findUniqueOrThrow({ where: { id: sessionId }, select: { userId: true } });
      const event: SessionRevokedEvent = {
        sessionId,
        userId: session.userId,
        reason,
        expiresAt: tokensExpireAt.toISOString(),
      };
      await tx.usersOutbox.create({ data: outboxRow(UsersSubjects.sessionRevoked, event, now) });
      return true;
    });
    if (revoked) this.afterCommit();
    return revoked;
  }

  /** Sessions revoked after `since` (served by sessions_revoked_at_idx), oldest first. */
  revokedSince(since: Date): Promise<{ sessionId: string; revokedAt: Date }[]> {
    return this.db.session
      .findMany({
        where: { revokedAt: { gt: since } },
        select: { id: true, revokedAt: true },
        orderBy: { revokedAt: 'asc' },
      })
      .then((rows) => rows.map((row) => ({ sessionId: row.id, revokedAt: row.revokedAt! })));
  }

  async isActive(sessionId: string, now: Date): Promise<boolean> {
    const session = await this.db.session.findUnique({
      where: { id: sessionId },
      select: { revokedAt: true, expiresAt: true },
    });
    return !!session && !session.revokedAt && session.expiresAt > now;
  }
}
