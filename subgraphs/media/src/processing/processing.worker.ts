import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import type { MediaUploadCompletedEvent } from '@insta/events';
import type { BusMessage, Logger } from '@insta/infra';
import type { MediaRepository, MediaUploadRecord } from '../media.repository.ts';
import type { ObjectsRepository } from '../objects.repository.ts';
import { UnprocessableMediaError } from './errors.ts';
import { processImage, type ProducedFile } from './image.processor.ts';
import { processVideo, type VideoTools } from './video.processor.ts';

/** Where a media's variants live in the bucket. */
export const variantPrefix = (mediaId: string) => `media/${mediaId}/`;

const CONTENT_TYPES: Record<string, string> = {
  '.webp': 'image/webp',
  '.jpeg': 'image/jpeg',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
};
const UPLOAD_CONCURRENCY = 4;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * Handles `media.upload.completed` jobs: downloads the original, makes the variants, uploads them, then marks
 * the media READY (and deletes the original, which still carries its EXIF/GPS). Redelivered jobs of media that
 * is no longer PROCESSING are no-ops. A media that cannot be processed is FAILED at once; any other error is
 * retried, and on the last delivery the media is FAILED before the job goes to the dead letters.
 */
export class ProcessingWorker {
  constructor(
    private readonly media: MediaRepository,
    private readonly objects: ObjectsRepository,
    private readonly tools: VideoTools,
    private readonly maxDeliver: number,
    private readonly logger: Logger,
  ) {}

  readonly handle = async (message: BusMessage<MediaUploadCompletedEvent>): Promise<void> => {
    const media = await this.media.beginAttempt(message.data.mediaId);
    if (!media) return;
    const work = await mkdtemp(join(tmpdir(), 'media-'));
    try {
      const variants = await this.process(media, work);
      const ready = await this.media.markReady(media.id, variants);
      if (ready) await this.deleteQuietly(media.objectKey);
    } catch (error) {
      if (error instanceof UnprocessableMediaError) {
        this.logger.info({ mediaId: media.id, reason: error.message }, 'media cannot be processed');
        await this.fail(media, error.reason);
        return;
      }
      if (message.deliveryCount >= this.maxDeliver) await this.fail(media, 'PROCESSING_FAILED');
      throw error;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  };

  private async process(media: MediaUploadRecord, work: string) {
    const input = join(work, 'original');
    const out = join(work, 'out');
    await mkdir(out);
    await this.objects.download(media.objectKey, input);
    const result =
      media.kind === 'IMAGE'
        ? { ...(await processImage(input, out)), durationMs: null }
        : await processVideo(input, out, work, this.tools);
    const sizes = await this.upload(out, variantPrefix(media.id));
    return {
      width: result.width,
      height: result.height,
      durationMs: result.durationMs,
      blurhash: result.blurhash,
      variants: result.files.map((f: ProducedFile) => ({
        name: f.name,
        objectKey: `${variantPrefix(media.id)}${f.file}`,
        contentType: f.contentType,
        width: f.width,
        height: f.height,
        size: sizes.get(f.file) ?? 0,
      })),
    };
  }

  /** Uploads every file under `dir` (HLS segments included) below `prefix`; returns each file's size. */
  private async upload(dir: string, prefix: string): Promise<Map<string, number>> {
    const queue = (await filesUnder(dir)).map((path) => ({ path, file: relative(dir, path).split('\\').join('/') }));
    const sizes = new Map<string, number>();
    const next = async (): Promise<void> => {
      const item = queue.shift();
      if (!item) return;
      const contentType = CONTENT_TYPES[extname(item.file)] ?? 'application/octet-stream';
      sizes.set(item.file, await this.objects.putFile(`${prefix}${item.file}`, item.path, contentType));
      return next();
    };
    await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, next));
    return sizes;
  }

  private async fail(media: MediaUploadRecord, reason: string) {
    const failed = await this.media.fail(media.id, 'PROCESSING', reason);
    if (!failed) return;
    await this.deleteQuietly(media.objectKey);
    await this.objects.deletePrefix(variantPrefix(media.id)).catch((error: unknown) => {
      this.logger.warn({ err: error, mediaId: media.id }, 'could not delete the variants of failed media');
    });
  }

  /** The status change is committed: an object left behind is only storage, so it is logged, not retried. */
  private async deleteQuietly(key: string) {
    await this.objects.delete(key).catch((error: unknown) => {
      this.logger.warn({ err: error, key }, 'could not delete an object');
    });
  }
}
