import { decodeCursor, encodeCursor } from '@insta/infra';
import { z } from 'zod';
import type { ListKey, ListRow } from './social.repository.ts';

/**
 * The keyset lists and their cursors. A cursor names its list (user included), so a cursor from another list,
 * or from the same list of another user, is BAD_USER_INPUT.
 */
export const Lists = {
  followers: (userId: string) => `followers:${userId}`,
  following: (userId: string) => `following:${userId}`,
  followRequests: (userId: string) => `followRequests:${userId}`,
  followerIds: (userId: string) => `followerIds:${userId}`,
};

/** The position after a row: its time in epoch milliseconds (the columns hold milliseconds) and its user id. */
const keySchema = z.object({ t: z.number().int().nonnegative(), u: z.uuid() });

export const listCursor = (list: string, row: ListRow): string =>
  encodeCursor(list, { t: row.createdAt.getTime(), u: row.id });

export function parseListCursor(list: string, cursor: string | null | undefined): ListKey | null {
  if (cursor === null || cursor === undefined) return null;
  const key = decodeCursor(list, cursor, keySchema);
  return { createdAt: new Date(key.t), id: key.u };
}
