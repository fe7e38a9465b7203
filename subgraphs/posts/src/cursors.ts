import { decodeCursor, encodeCursor } from '@insta/infra';
import { z } from 'zod';

/** Keyset position in a list ordered by (created_at, id): posts newest first, comments oldest first. */
export interface TimeKey {
  createdAt: Date;
  id: string;
}

const timeKey = z.object({ c: z.iso.datetime(), i: z.uuid() });

export const encodeTimeCursor = (list: string, key: TimeKey) =>
  encodeCursor(list, { c: key.createdAt.toISOString(), i: key.id });

export function decodeTimeCursor(list: string, after: string | null | undefined): TimeKey | null {
  if (!after) return null;
  const key = decodeCursor(list, after, timeKey);
  return { createdAt: new Date(key.c), id: key.i };
}
