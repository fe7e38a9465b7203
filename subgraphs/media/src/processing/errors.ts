/**
 * The media cannot be processed (undecodable, not of its verified type, no video stream, too long, or the
 * original is no longer the verified object): retrying cannot help, so the worker marks it FAILED with
 * `reason` at once instead of waiting for redeliveries.
 */
export class UnprocessableMediaError extends Error {
  constructor(
    readonly reason: | 'UNDECODABLE'
      | 'TYPE_MISMATCH'
      | 'NO_VIDEO_STREAM'
      | 'TOO_LONG'
      | 'OBJECT_CHANGED'
      | 'VIDEO_PROCESSING_UNAVAILABLE',
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'UnprocessableMediaError';
  }
}
