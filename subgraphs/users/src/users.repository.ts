import { outboxRow, Prisma, type PrismaClient } from '@insta/db';
import { UsersSubjects, type UserActiveEvent, type UserCreatedEvent, type UserUpdatedEvent } from '@insta/events';

/** A user as the resolvers see it: everything but the password hash. */
export interface UserRecord {
  id: string;
  username: string;
  email: string;
  displayName: string | null;
  bio: string | null;
  avatarMediaId: string | null;
  isPrivate: boolean;
  createdAt: Date;
}

const publicColumns = {
  id: true,
  username: true,
  email: true,
  displayName: true,
  bio: true,
  avatarMediaId: true,
  isPrivate: true,
  createdAt: true,
} as const;

export interface SearchRow extends UserRecord {
  rank: number;
}

export class UniqueViolation extends Error {
  constructor(readonly fields: string[]) {
    super(`unique violation on ${fields.join(', ')}`);
  }
}

/** Prisma reports the violated columns in `meta.target` (native engine) or on the driver adapter's cause. */
function uniqueViolationFields(error: Prisma.PrismaClientKnownRequestError): string[] {
  const meta = error.meta as
    | { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } }
    | undefined;
  if (Array.isArray(meta?.target)) return meta.target.map(String);
  return meta?.driverAdapterError?.cause?.constraint?.fields ?? [];
}

type ProfilePatch = {
  displayName?: string | null;
  bio?: string | null;
  avatarMediaId?: string | null;
  isPrivate?: boolean;
};

/**
 * The only code of the users subgraph that touches users.users and users.outbox. Every change that other
 * subgraphs mirror writes its event to the outbox in the same transaction, then calls `afterCommit`.
 */
export class UsersRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly afterCommit: () => void,
  ) {}

  async create(data: {
    username: string;
    email: string;
    passwordHash: string;
    displayName: string | null;
  }): Promise<UserRecord> {
    try {
      const user = await this.db.$transaction(async (tx) => {
        const created = await tx.user.create({ data, select: publicColumns });
        const event: UserCreatedEvent = {
          userId: created.id,
          username: created.username,
          isPrivate: created.isPrivate,
          createdAt: created.createdAt.toISOString(),
        };
        await tx.usersOutbox.create({ data: outboxRow(UsersSubjects.userCreated, event) });
        return created;
      });
      this.afterCommit();
      return user;
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new UniqueViolation(uniqueViolationFields(error));
      }
      throw error;
    }
  }

  async existing(username: string, email: string): Promise<{ username: boolean; email: boolean }> {
    const rows = await this.db.user.findMany({
      where: { OR: [{ username }, { email }] },
      select: { username: true, email: true },
    });
    return { username: rows.some((r) => r.username === username), email: rows.some((r) => r.email === email) };
  }

  findByIds(ids: readonly string[]): Promise<UserRecord[]> {
    return this.db.user.findMany({ where: { id: { in: [...ids] } }, select: publicColumns });
  }

  /** Existence, privacy and version of these users, for replicas (social-graph's accounts) that miss one. */
  accountStates(ids: readonly string[]): Promise<{ userId: string; isPrivate: boolean; updatedAt: Date }[]> {
    return this.db.user
      .findMany({ where: { id: { in: [...ids] } }, select: { id: true, isPrivate: true, updatedAt: true } })
      .then((rows) => rows.map(({ id, ...state }) => ({ userId: id, ...state })));
  }

  findByUsernames(usernames: string[]): Promise<UserRecord[]> {
    return this.db.user.findMany({ where: { username: { in: usernames } }, select: publicColumns });
  }

  findByUsername(username: string): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { username }, select: publicColumns });
  }

  /** For sign-in: by username or email (both stored lower-case), with the password hash. */
  findCredentials(login: string): Promise<{ id: string; passwordHash: string } | null> {
    const where = login.includes('@') ? { email: login } : { username: login };
    return this.db.user.findUnique({ where, select: { id: true, passwordHash: true } });
  }

  async touchLastActive(id: string): Promise<void> {
    const now = new Date();
    const event: UserActiveEvent = { userId: id, lastActiveAt: now.toISOString() };
    await this.db.$transaction([
      this.db.user.update({ where: { id }, data: { lastActiveAt: now }, select: { id: true } }),
      this.db.usersOutbox.create({ data: outboxRow(UsersSubjects.userActive, event, now) }),
    ]);
    this.afterCommit();
  }

  async update(id: string, patch: ProfilePatch): Promise<UserRecord> {
    const user = await this.db.$transaction(async (tx) => {
      const updated = await tx.user.update({ where: { id }, data: patch, select: publicColumns });
      const event: UserUpdatedEvent = {
        userId: id,
        isPrivate: updated.isPrivate,
        changed: Object.keys(patch) as UserUpdatedEvent['changed'],
      };
      await tx.usersOutbox.create({ data: outboxRow(UsersSubjects.userUpdated, event) });
      return updated;
    });
    this.afterCommit();
    return user;
  }

  /**
   * Prefix search served by the trigram GIN indexes on username and display_name. Rank: exact username 0,
   * username prefix 1, a display-name word prefix 2; keyset on (rank, username).
   */
  search(query: string, after: { rank: number; username: string } | null, limit: number): Promise<SearchRow[]> {
    const escaped = query.replace(/[\\%_]/g, (c) => `\\${c}`);
    const prefix = `${escaped}%`;
    const wordPrefix = `% ${escaped}%`;
    return this.db.$queryRaw<SearchRow[]>`
      SELECT * FROM (
        SELECT id, username, email, display_name AS "displayName", bio, avatar_media_id AS "avatarMediaId",
               is_private AS "isPrivate", created_at AS "createdAt",
               CASE WHEN username = ${query} THEN 0 WHEN username LIKE ${prefix} THEN 1 ELSE 2 END AS rank
        FROM users.users
        WHERE username LIKE ${prefix} OR display_name ILIKE ${prefix} OR display_name ILIKE ${wordPrefix}
      ) matches
      WHERE ${after === null} OR (rank, username) > (${after?.rank ?? 0}, ${after?.username ?? ''})
      ORDER BY rank, username
      LIMIT ${limit}`;
  }
}
