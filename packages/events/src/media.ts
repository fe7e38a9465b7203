import { DEFAULT_DUPLICATE_WINDOW_MS, DOMAIN_STREAM_LIMITS, type StreamDefinition } from './common.ts';

export const MEDIA_STREAM: StreamDefinition = {
  name: 'MEDIA',
  subjects: ['media.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
  limits: DOMAIN_STREAM_LIMITS,
};

export const MediaSubjects = {
  /** The upload was verified (size, type from magic bytes) and the media is PROCESSING: the processing job. */
  uploadCompleted: 'media.upload.completed',
  /** The media reached its final status: READY (variants stored) or FAILED (with a reason). */
  processed: 'media.processed',
} as const;

export type MediaKindName = 'IMAGE' | 'VIDEO';

export interface MediaUploadCompletedEvent {
  mediaId: string;
  ownerId: string;
  kind: MediaKindName;
  /** Verified from the object's magic bytes. */
  contentType: string;
  objectKey: string;
  size: number;
  /**
   * The ETag of the verified object. The upload form stays valid until it expires, so the key may hold other
   * bytes by the time the job runs: the worker processes this version only, and fails the media otherwise.
   */
  etag: string;
}

export interface MediaProcessedEvent {
  mediaId: string;
  ownerId: string;
  kind: MediaKindName;
  status: 'READY' | 'FAILED';
  /** Set when FAILED: a short code such as TYPE_MISMATCH, SIZE_MISMATCH, UNDECODABLE, OBJECT_CHANGED, PROCESSING_FAILED. */
  reason?: string;
}
