import { randomUUID } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import {
  appError,
  badUserInput,
  conflict,
  ErrorCode,
  forbidden,
  isUuid,
  notFound,
  type Identity,
  type Logger,
} from '@insta/infra';
import type { MediaConfig } from './config.ts';
import type { MediaRecord, MediaRepository, VariantRecord } from './media.repository.ts';
import { PRIVATE_PREFIX, type ObjectsRepository } from './objects.repository.ts';
import type { OwnerRelation } from './loaders.ts';
import type { VideoToolsStatus } from './processing/video-tools.ts';
import { checkDeclaredUpload, uploadMismatch } from './upload-policy.ts';

/** Enough of the file for every magic-byte signature file-type knows. */
const MAGIC_BYTES = 4100;
const MAX_ALT_TEXT = 500;
export const MAX_SUMMARY_IDS = 100;

export interface UploadTicketRecord {
  media: MediaRecord;
  url: string;
  fields: { name: string; value: string }[];
  expiresAt: Date;
}

export class MediaService {
  constructor(
    private readonly media: MediaRepository,
    private readonly objects: ObjectsRepository,
    private readonly config: MediaConfig,
    private readonly logger: Logger,
    private readonly videoTools: VideoToolsStatus = { available: true, missing: [] },
  ) {}

  async requestUpload(
    ownerId: string,
    input: { contentType: string; size: number; altText?: string | null },
  ): Promise<UploadTicketRecord> {
    const declared = checkDeclaredUpload(input.contentType, input.size, {
      maxImageBytes: this.config.MEDIA_MAX_IMAGE_BYTES,
      maxVideoBytes: this.config.MEDIA_MAX_VIDEO_BYTES,
    });
    if (!declared.ok) {
      throw appError(ErrorCode.BadUserInput, declared.message, {
        field: declared.field,
        ...(declared.maxBytes ? { maxBytes: declared.maxBytes } : {}),
      });
    }
    if (declared.kind === 'VIDEO' && !this.videoTools.available) {
      throw appError(
        ErrorCode.VideoProcessingUnavailable,
        'This server cannot process videos (ffmpeg is not installed); upload images only',
        {
          field: 'contentType',
        },
      );
    }
    const altText = input.altText?.trim() || null;
    if (altText && altText.length > MAX_ALT_TEXT)
      throw badUserInput(`Alt text may be at most ${MAX_ALT_TEXT} characters`, 'altText');

    const objectKey = `originals/${ownerId}/${randomUUID()}`;
    const upload = await this.objects.presignUpload(
      objectKey,
      declared.contentType,
      input.size,
      this.config.UPLOAD_URL_TTL_SECONDS,
    );
    const media = await this.media.create({
      ownerId,
      kind: declared.kind,
      contentType: declared.contentType,
      size: input.size,
      objectKey,
      altText,
      uploadExpiresAt: upload.expiresAt,
    });
    return {
      media,
      url: upload.url,
      fields: Object.entries(upload.fields).map(([name, value]) => ({ name, value })),
      expiresAt: upload.expiresAt,
    };
  }

  /**
   * Checks the uploaded object against what was declared (size, type from its magic bytes and its stored
   * Content-Type) and starts processing. A mismatch fails the media for good and deletes the object.
   * Everything checked comes from one version of the object (its ETag, from the HEAD), and the processing job
   * pins that version: the upload form stays valid until it expires, so the key may be overwritten afterwards.
   */
  async completeUpload(userId: string, mediaId: string): Promise<MediaRecord> {
    const media = isUuid(mediaId) ? await this.media.findForUpload(mediaId) : null;
    if (!media) throw notFound('No such media');
    if (media.ownerId !== userId) throw forbidden('Only the uploader can complete an upload');
    if (media.status !== 'AWAITING_UPLOAD') throw conflict('This upload is already complete', 'mediaId');

    const head = await this.objects.head(media.objectKey);
    if (!head) {
      if (media.uploadExpiresAt && media.uploadExpiresAt.getTime() < Date.now()) {
        await this.rejectUpload(media.id, media.objectKey, 'UPLOAD_EXPIRED');
      }
      throw badUserInput('Nothing has been uploaded for this media yet', 'mediaId');
    }
    // Written after the form expired (a store that let a late form through, or a write around the form): the
    // ticket no longer covers it.
    if (media.uploadExpiresAt && head.lastModified && head.lastModified.getTime() > media.uploadExpiresAt.getTime()) {
      await this.rejectUpload(media.id, media.objectKey, 'UPLOAD_EXPIRED', true);
    }
    let detected: string | undefined;
    if (head.size > 0 && head.size <= media.size) {
      const start = await this.objects.readStart(media.objectKey, head.etag, Math.min(MAGIC_BYTES, head.size));
      if (!start) throw conflict('The upload changed while it was being checked; complete it again', 'mediaId');
      detected = (await fileTypeFromBuffer(start))?.mime;
    }
    const mismatch = uploadMismatch(media, {
      size: head.size,
      storedContentType: head.contentType,
      detectedType: detected,
    });
    if (mismatch) await this.rejectUpload(media.id, media.objectKey, mismatch);

    const started = await this.media.startProcessing(media, { size: head.size, etag: head.etag });
    if (!started) throw conflict('This upload is already complete', 'mediaId');
    return started;
  }

  private async rejectUpload(
    mediaId: string,
    objectKey: string,
    reason: 'UPLOAD_EXPIRED' | 'SIZE_MISMATCH' | 'TYPE_MISMATCH',
    objectExists = reason !== 'UPLOAD_EXPIRED',
  ): Promise<never> {
    const failed = await this.media.fail(mediaId, 'AWAITING_UPLOAD', reason);
    if (!failed) throw conflict('This upload is already complete', 'mediaId');
    // FAILED is committed: the client gets its typed error whatever happens to the object, which is only storage.
    if (objectExists) {
      await this.objects.delete(objectKey).catch((error: unknown) => {
        this.logger.warn({ err: error, key: objectKey, mediaId }, 'could not delete a rejected upload');
      });
    }
    const messages = {
      UPLOAD_EXPIRED: 'The upload window has closed; request a new upload',
      SIZE_MISMATCH: 'The uploaded file is empty or larger than the declared size',
      TYPE_MISMATCH: 'The uploaded file is not of the declared content type',
    };
    throw appError(ErrorCode.BadUserInput, messages[reason], { field: 'mediaId', reason });
  }

  /**
   * Its owner sees a media in every state; anyone else only once READY, and then as they would see the owner's
   * posts: not across a block, and for a private account (or one social-graph does not know) only as an
   * approved follower.
   */
  async visibleTo(
    media: MediaRecord,
    viewer: Identity | null,
    relationToOwner: (ownerId: string) => Promise<OwnerRelation>,
  ): Promise<boolean> {
    if (media.ownerId === viewer?.userId) return true;
    if (media.status !== 'READY') return false;
    const relation = await relationToOwner(media.ownerId);
    return !relation.blocked && (!relation.targetIsPrivate || relation.following);
  }

  /**
   * Where a client downloads one variant: the public (cacheable) URL for public accounts; a short-lived signed URL
   * for private ones, and for anything stored under the private prefix whatever the owner is now.
   */
  async variantUrl(variant: VariantRecord, ownerIsPrivate: () => Promise<boolean>): Promise<string> {
    if (variant.objectKey.startsWith(PRIVATE_PREFIX) || (await ownerIsPrivate())) {
      return this.objects.signedUrl(variant.objectKey, this.config.MEDIA_PRIVATE_URL_TTL_SECONDS);
    }
    return this.objects.publicUrl(variant.objectKey);
  }

  async summaries(ids: readonly string[]): Promise<MediaRecord[]> {
    if (ids.length > MAX_SUMMARY_IDS) throw badUserInput(`At most ${MAX_SUMMARY_IDS} ids`, 'ids');
    return this.media.findByIds(ids.filter(isUuid));
  }
}
