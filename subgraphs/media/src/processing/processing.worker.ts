import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import type { MediaUploadCompletedEvent } from '@insta/events';
import { isTransientError, mediaFailures, mediaProcessingDuration, type BusMessage, type Logger } from '@insta/infra';
import type { MediaRepository, MediaUploadRecord } from '../media.repository.ts';
import { PRIVATE_PREFIX, type ObjectsRepository } from '../objects.repository.ts';
import { ACCEPTED_TYPES } from '../upload-policy.ts';
import { UnprocessableMediaError } from './errors.ts';
import { processImage, type ProducedFile } from './image.processor.ts';
import { isMissingTool } from './video-tools.ts';
import { processVideo, type VideoTools } from './video.processor.ts';

/**
 * Where a media's variants live in the bucket: under `media/` (publicly readable) when its owner's account is
 * public when it is processed, under `private/` (readable only with a signed URL) otherwise.
 */
export const mediaPrefix = (mediaId: string, isPrivate: boolean) =>
  `${isPrivate ? PRIVATE_PREFIX : 'media/'}${mediaId}/`;
/**
 * Where one processing attempt writes them: attempts never share keys, so an attempt that loses the race to
 * READY (a redelivery running alongside a slow attempt) can delete what it uploaded without touching the winner's.
 */
export const attemptPrefix = (mediaId: string, attempt: number, isPrivate: boolean) =>
  `${mediaPrefix(mediaId, isPrivate)}${attempt}/`;

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
 * Handles `media.upload.completed` jobs: downloads the original (the version completeUpload verified, by its
 * ETag), makes the variants, uploads them, then marks the media READY (and deletes the original, which still
 * carries its EXIF/GPS). Redelivered jobs of media that is no longer PROCESSING are no-ops. A media that cannot
 * be processed (an original overwritten since it was verified included) is FAILED at once. Other errors are
 * thrown for the bus to retry: an infrastructure failure (S3, Postgres) for as long as it lasts, anything else
 * up to MEDIA_PROCESSING_MAX_DELIVER tries, and on the last one the media is FAILED before the job goes to the
 * dead letters. The bus reports progress while a long transcode runs, so a job of a dead replica moves on
 * within the ack wait; a replica shutting down kills its ffmpeg and hands the job over at once.
 */
export class ProcessingWorker {
  constructor(
    private readonly media: MediaRepository,
    private readonly objects: ObjectsRepository,
    private readonly tools: VideoTools,
    private readonly logger: Logger,
    /** Whether the owner's account is private (or unknown); asked before anything is uploaded. */
    private readonly ownerIsPrivate: (ownerId: string) => Promise<boolean>,
  ) {}

  readonly handle = async (message: BusMessage<MediaUploadCompletedEvent>): Promise<void> => {
    const media = await this.media.beginAttempt(message.data.mediaId);
    if (!media) return;
    const isPrivate = await this.ownerIsPrivate(media.ownerId);
    const work = await mkdtemp(join(tmpdir(), 'media-'));
    const prefix = attemptPrefix(media.id, media.attempt, isPrivate);
    const end = mediaProcessingDuration.startTimer({ kind: media.kind });
    try {
      const variants = await this.process(media, message.data.etag, work, prefix, message.signal);
      const ready = await this.media.markReady(media.id, variants);
      end({ outcome: 'ready' });
      if (ready) await this.deleteQuietly(media.objectKey);
      // The media left PROCESSING meanwhile (FAILED, or READY by another attempt): nothing points at these.
      else await this.deletePrefixQuietly(prefix, media.id);
    } catch (error) {
      if (error instanceof UnprocessableMediaError) {
        this.logger.info({ mediaId: media.id, reason: error.message }, 'media cannot be processed');
        end({ outcome: 'failed' });
        await this.fail(media, error.reason);
        return;
      }
      // Abandoned on shutdown: another replica starts over; nothing to fail.
      if (message.lastTry && !message.signal.aborted && !isTransientError(error)) {
        end({ outcome: 'failed' });
        await this.fail(media, 'PROCESSING_FAILED');
      } else end({ outcome: 'retried' });
      throw error;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  };

  private async process(media: MediaUploadRecord, etag: string, work: string, prefix: string, signal: AbortSignal) {
    const input = join(work, 'original');
    const out = join(work, 'out');
    await mkdir(out);
    if (!(await this.objects.download(media.objectKey, etag, input))) {
      throw new UnprocessableMediaError('OBJECT_CHANGED', 'the original is no longer the object that was verified');
    }
    // The type completeUpload verified from the magic bytes: the processors decode that format and no other.
    const format = ACCEPTED_TYPES[media.contentType]?.decodeAs;
    if (!format) throw new UnprocessableMediaError('TYPE_MISMATCH', `unsupported type ${media.contentType}`);
    const result =
      media.kind === 'IMAGE'
        ? { ...(await processImage(input, out, format)), durationMs: null }
        : await processVideo(input, format, out, work, this.tools, signal).catch((error: unknown) => {
            if (!isMissingTool(error)) throw error;
            throw new UnprocessableMediaError('VIDEO_PROCESSING_UNAVAILABLE', 'ffmpeg or ffprobe is not installed');
          });
    const sizes = await this.upload(out, prefix).catch(async (error: unknown) => {
      // Half an upload is of no use: a retry writes under a prefix of its own.
      await this.deletePrefixQuietly(prefix, media.id);
      throw error;
    });
    return {
      width: result.width,
      height: result.height,
      durationMs: result.durationMs,
      blurhash: result.blurhash,
      variants: result.files.map((f: ProducedFile) => ({
        name: f.name,
        objectKey: `${prefix}${f.file}`,
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
    mediaFailures.inc({ reason });
    await this.deleteQuietly(media.objectKey);
    await this.deletePrefixQuietly(mediaPrefix(media.id, false), media.id);
    await this.deletePrefixQuietly(mediaPrefix(media.id, true), media.id);
  }

  private async deletePrefixQuietly(prefix: string, mediaId: string) {
    await this.objects.deletePrefix(prefix).catch((error: unknown) => {
      this.logger.warn({ err: error, mediaId, prefix }, 'could not delete unused variants');
    });
  }

  /** The status change is committed: an object left behind is only storage, so it is logged, not retried. */
  private async deleteQuietly(key: string) {
    await this.objects.delete(key).catch((error: unknown) => {
      this.logger.warn({ err: error, key }, 'could not delete an object');
    });
  }
}
