/**
 * The media itself cannot be processed (undecodable, no video stream, too long): retrying cannot help, so the
 * worker marks it FAILED with `reason` at once instead of waiting for redeliveries.
 */
export class UnprocessableMediaError extends Error {
  constructor(
    readonly reason: 'UNDECODABLE' | 'NO_VIDEO_STREAM' | 'TOO_LONG',
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'UnprocessableMediaError';
  }
}
