import { Prisma, type PrismaClient } from '@insta/db';

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
  const meta = error.meta as { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } } | undefined;
  if (Array.isArray(meta?.target)) return meta.target.map(String);
  return meta?.driverAdapterError?.cause?.constraint?.fields ?? [];
}

/** The only code of the users subgraph that touches the users.users table. */
export class UsersRepository {
  constructor(private readonly db: PrismaClient) {}

  async create(data: { username: string; email: string; passwordHash: string; displayName: string | null }): Promise<UserRecord> {
    try {
      return await this.db.user.create({ data, select: publicColumns });
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

  findByUsername(username: string): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { username }, select: publicColumns });
  }

  /** For sign-in: by username or email (both stored lower-case), with the password hash. */
  findCredentials(login: string): Promise<{ id: string; passwordHash: string } | null> {
    const where = login.includes('@') ? { email: login } : { username: login };
    return this.db.user.findUnique({ where, select: { id: true, passwordHash: true } });
  }

  async touchLastActive(id: string): Promise<void> {
    await this.db.user.update({ where: { id }, data: { lastActiveAt: new Date() }, select: { id: true } });
  }

  update(
    id: string,
    patch: { displayName?: string | null; bio?: string | null; avatarMediaId?: string | null; isPrivate?: boolean },
  ): Promise<UserRecord> {
    return this.db.user.update({ where: { id }, data: patch, select: publicColumns });
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
