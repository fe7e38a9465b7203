import { outboxRow, type MediaKind, type MediaStatus, type Prisma, type PrismaClient } from '@insta/db';
import { MediaSubjects, type MediaProcessedEvent, type MediaUploadCompletedEvent } from '@insta/events';

/** A media item as the resolvers see it. */
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
  /** Why the media is FAILED (a MediaFailureReason name); null otherwise. */
  failureReason: string | null;
}

/** What the upload and processing steps need besides. */
export interface MediaUploadRecord extends MediaRecord {
  size: number;
  objectKey: string;
  uploadExpiresAt: Date | null;
}

export interface VariantRecord {
  mediaId: string;
  name: string;
  objectKey: string;
  contentType: string;
  width: number;
  height: number;
  size: number;
}

export interface ProcessedMedia {
  width: number;
  height: number;
  durationMs: number | null;
  blurhash: string | null;
  variants: Omit<VariantRecord, 'mediaId'>[];
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
  failureReason: true,
} as const;

const uploadColumns = { ...columns, size: true, objectKey: true, uploadExpiresAt: true } as const;

const variantColumns = {
  mediaId: true,
  name: true,
  objectKey: true,
  contentType: true,
  width: true,
  height: true,
  size: true,
} as const;

type Tx = Prisma.TransactionClient;

function processedRow(media: MediaRecord, status: 'READY' | 'FAILED', reason?: string) {
  const event: MediaProcessedEvent = {
    mediaId: media.id,
    ownerId: media.ownerId,
    kind: media.kind,
    status,
    ...(reason ? { reason } : {}),
  };
  return outboxRow(MediaSubjects.processed, event);
}

/**
 * The only code that touches media.media, media.media_variants and media.outbox. Every status change is a
 * conditional update from the status it expects (so racing requests and redelivered jobs change nothing twice),
 * with its event written to the outbox in the same transaction; `afterCommit` wakes the relay.
 */
export class MediaRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly afterCommit: () => void,
  ) {}

  create(data: {
    ownerId: string;
    kind: MediaKind;
    contentType: string;
    size: number;
    objectKey: string;
    altText: string | null;
    uploadExpiresAt: Date;
  }): Promise<MediaRecord> {
    return this.db.media.create({ data, select: columns });
  }

  findByIds(ids: readonly string[]): Promise<MediaRecord[]> {
    return this.db.media.findMany({ where: { id: { in: [...ids] } }, select: columns });
  }

  findForUpload(id: string): Promise<MediaUploadRecord | null> {
    return this.db.media.findUnique({ where: { id }, select: uploadColumns });
  }

  /** READY media of `ownerId` with variants still under `prefix` (`media/<id>/...`). */
  async mediaWithVariantsUnder(ownerId: string, prefix: string): Promise<string[]> {
    const rows = await this.db.$queryRaw<{ id: string }[]>`
      SELECT DISTINCT m.id::text AS id FROM media.media m JOIN media.media_variants v ON v.media_id = m.id
      WHERE m.owner_id = ${ownerId}::uuid AND m.status = 'READY' AND v.object_key LIKE ${`${prefix}%`}`;
    return rows.map((r) => r.id);
  }

  /** Points the media's variants from keys under `from` to the same keys under `to`. */
  async moveVariantKeys(mediaId: string, from: string, to: string): Promise<void> {
    await this.db.$executeRaw`
      UPDATE media.media_variants SET object_key = ${to} || substr(object_key, ${from.length + 1})
      WHERE media_id = ${mediaId}::uuid AND object_key LIKE ${`${from}%`}`;
  }

  variantsOf(mediaIds: readonly string[]): Promise<VariantRecord[]> {
    return this.db.mediaVariant.findMany({
      where: { mediaId: { in: [...mediaIds] } },
      select: variantColumns,
      orderBy: [{ mediaId: 'asc' }, { width: 'asc' }, { name: 'asc' }],
    });
  }

  /**
   * AWAITING_UPLOAD → PROCESSING with the verified size and type, and the processing job, which pins the verified
   * version of the object by its ETag. Null if another call won.
   */
  startProcessing(media: MediaUploadRecord, verified: { size: number; etag: string }): Promise<MediaRecord | null> {
    return this.transition(media.id, 'AWAITING_UPLOAD', async (tx) => {
      const updated = await tx.media.update({
        where: { id: media.id },
        data: { status: 'PROCESSING', size: verified.size },
        select: columns,
      });
      const job: MediaUploadCompletedEvent = {
        mediaId: media.id,
        ownerId: media.ownerId,
        kind: media.kind,
        contentType: media.contentType,
        objectKey: media.objectKey,
        size: verified.size,
        etag: verified.etag,
      };
      await tx.mediaOutbox.create({ data: outboxRow(MediaSubjects.uploadCompleted, job) });
      return updated;
    });
  }

  /** `from` → FAILED with its reason and event. Null if the media had already left `from`. */
  fail(id: string, from: 'AWAITING_UPLOAD' | 'PROCESSING', reason: string): Promise<MediaRecord | null> {
    return this.transition(id, from, async (tx) => {
      const updated = await tx.media.update({
        where: { id },
        data: { status: 'FAILED', failureReason: reason, processedAt: new Date() },
        select: columns,
      });
      await tx.mediaOutbox.create({ data: processedRow(updated, 'FAILED', reason) });
      return updated;
    });
  }

  /**
   * Counts a processing attempt and returns its number (unique per media, even for concurrent attempts); null
   * unless the media is PROCESSING (a redelivered job of finished media).
   */
  async beginAttempt(id: string): Promise<(MediaUploadRecord & { attempt: number }) | null> {
    const [counted] = await this.db.$queryRaw<{ attempt: number }[]>`
      UPDATE media.media SET processing_attempts = processing_attempts + 1
      WHERE id = ${id}::uuid AND status = 'PROCESSING'
      RETURNING processing_attempts AS attempt`;
    if (!counted) return null;
    const media = await this.findForUpload(id);
    return media && { ...media, attempt: counted.attempt };
  }

  /** PROCESSING → READY with the dimensions and variants. Null if the media had already left PROCESSING. */
  markReady(id: string, result: ProcessedMedia): Promise<MediaRecord | null> {
    return this.transition(id, 'PROCESSING', async (tx) => {
      const updated = await tx.media.update({
        where: { id },
        data: {
          status: 'READY',
          width: result.width,
          height: result.height,
          durationMs: result.durationMs,
          blurhash: result.blurhash,
          processedAt: new Date(),
        },
        select: columns,
      });
      await tx.mediaVariant.deleteMany({ where: { mediaId: id } });
      await tx.mediaVariant.createMany({ data: result.variants.map((v) => ({ ...v, mediaId: id })) });
      await tx.mediaOutbox.create({ data: processedRow(updated, 'READY') });
      return updated;
    });
  }

  private async transition(
    id: string,
    from: MediaStatus,
    apply: (tx: Tx) => Promise<MediaRecord>,
  ): Promise<MediaRecord | null> {
    const result = await this.db.$transaction(async (tx) => {
      // Row lock first: the status check and the change it guards happen as one step.
      const locked = await tx.$queryRaw<
        { status: MediaStatus }[]
      >`SELECT status FROM media.media WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked[0]?.status !== from) return null;
      return apply(tx);
    });
    if (result) this.afterCommit();
    return result;
  }
}
