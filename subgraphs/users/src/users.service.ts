import {
  badUserInput,
  decodeCursor,
  encodeCursor,
  isUuid,
  MAX_PAGE_SIZE,
  pageSize,
  toConnection,
  type Connection,
} from '@insta/infra';
import { z } from 'zod';
import type { MediaClient } from '@insta/media/client';
import type { UserRecord, UsersRepository } from './users.repository.ts';
import { parseInput, searchQuerySchema, updateProfileSchema, USERNAME } from './validation.ts';

const searchCursor = z.object({ r: z.number().int().min(0).max(2), u: z.string().regex(USERNAME) });

export const MAX_ACCOUNT_STATES = 500;

export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly media: MediaClient,
  ) {}

  /** `user(id:, username:)`: exactly one argument; unknown users are null. */
  async lookup(
    args: { id?: string | null; username?: string | null },
    byId: (id: string) => Promise<UserRecord | null>,
  ): Promise<UserRecord | null> {
    const hasId = args.id !== undefined && args.id !== null;
    const hasUsername = args.username !== undefined && args.username !== null;
    if (hasId === hasUsername) throw badUserInput('Give exactly one of id and username', hasId ? 'username' : 'id');
    if (hasId) return isUuid(args.id!) ? byId(args.id!) : null;
    return this.users.findByUsername(args.username!.trim().toLowerCase());
  }

  /** Internal `accountStates`: at most 500 ids; unknown (and non-UUID) ids are left out. */
  accountStates(ids: readonly string[]) {
    if (ids.length > MAX_ACCOUNT_STATES) throw badUserInput(`At most ${MAX_ACCOUNT_STATES} ids`, 'ids');
    const valid = [...new Set(ids.map((id) => id.trim().toLowerCase()))].filter(isUuid);
    return valid.length ? this.users.accountStates(valid) : Promise.resolve([]);
  }

  /** At most 100 names per call; unknown names are left out. */
  byUsernames(usernames: string[]): Promise<UserRecord[]> {
    if (usernames.length > MAX_PAGE_SIZE) throw badUserInput(`At most ${MAX_PAGE_SIZE} usernames`, 'usernames');
    return this.users.findByUsernames([...new Set(usernames.map((u) => u.trim().toLowerCase()))]);
  }

  async search(
    rawQuery: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<UserRecord>> {
    const query = parseInput(searchQuerySchema, rawQuery, 'query');
    const size = pageSize(first);
    const list = `search:${query}`;
    const key = after ? decodeCursor(list, after, searchCursor) : null;
    const rows = await this.users.search(query, key ? { rank: key.r, username: key.u } : null, size + 1);
    return toConnection(
      rows,
      size,
      (row) => encodeCursor(list, { r: Number(row.rank), u: row.username }),
      (row) => row,
    );
  }

  async updateProfile(userId: string, input: unknown): Promise<UserRecord> {
    const patch = parseInput(updateProfileSchema, input, 'input');
    const data: Parameters<UsersRepository['update']>[1] = {};
    if (patch.displayName !== undefined) data.displayName = patch.displayName || null;
    if (patch.bio !== undefined) data.bio = patch.bio || null;
    if (patch.avatarMediaId) await this.checkAvatar(userId, patch.avatarMediaId);
    if (patch.avatarMediaId !== undefined) data.avatarMediaId = patch.avatarMediaId;
    if (patch.isPrivate !== undefined && patch.isPrivate !== null) data.isPrivate = patch.isPrivate;
    return this.users.update(userId, data);
  }

  /**
   * An avatar is shown to everyone who sees the user, so it must be an image of the user's own that finished
   * processing: someone else's media (a private post's image included) would be re-published by it. Unknown and
   * someone else's media get the same answer, so the check does not tell which ids exist.
   */
  private async checkAvatar(userId: string, mediaId: string): Promise<void> {
    const [media] = await this.media.summaries([mediaId]);
    if (!media || media.ownerId !== userId)
      throw badUserInput('Your avatar must be one of your images', 'avatarMediaId');
    if (media.kind !== 'IMAGE') throw badUserInput('Your avatar must be an image', 'avatarMediaId');
    if (media.status !== 'READY')
      throw badUserInput('This image is not processed yet; try again once it is READY', 'avatarMediaId');
  }
}
