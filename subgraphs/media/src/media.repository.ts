import type { MediaKind, MediaStatus, PrismaClient } from '@insta/db';

export interface MediaRecord {
  id: string;
  ownerId: string;
  kind: MediaKind;
  status: MediaStatus;
  contentType: string;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  blurhash: string | null;
  altText: string | null;
}

const columns = {
  id: true,
  ownerId: true,
  kind: true,
  status: true,
  contentType: true,
  width: true,
  height: true,
  durationMs: true,
  blurhash: true,
  altText: true,
} as const;

/** The only code that touches media.media. */
export class MediaRepository {
  constructor(private readonly db: PrismaClient) {}

  findByIds(ids: readonly string[]): Promise<MediaRecord[]> {
    return this.db.media.findMany({ where: { id: { in: [...ids] } }, select: columns });
  }
}
