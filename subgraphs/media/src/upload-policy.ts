import type { MediaKindName } from '@insta/events';

interface AcceptedType {
  kind: MediaKindName;
  /** What `file-type` may report for a genuine file of this type (container brands overlap). */
  detected: readonly string[];
  /**
   * How the processors open it: the format sharp must report for an image, the demuxer ffmpeg is forced to use
   * for a video. Nothing is decoded by sniffing its content, so a file of another format is refused.
   */
  decodeAs: string;
}

/** The content types clients may declare, and the magic-byte types that count as a match. */
export const ACCEPTED_TYPES: Readonly<Record<string, AcceptedType>> = {
  'image/jpeg': { kind: 'IMAGE', detected: ['image/jpeg'], decodeAs: 'jpeg' },
  'image/png': { kind: 'IMAGE', detected: ['image/png'], decodeAs: 'png' },
  'image/webp': { kind: 'IMAGE', detected: ['image/webp'], decodeAs: 'webp' },
  'image/gif': { kind: 'IMAGE', detected: ['image/gif'], decodeAs: 'gif' },
  // libvips reads HEIC, HEIF and AVIF with its one HEIF loader, and reports all three as "heif".
  'image/heic': { kind: 'IMAGE', detected: ['image/heic', 'image/heif'], decodeAs: 'heif' },
  'image/heif': { kind: 'IMAGE', detected: ['image/heif', 'image/heic'], decodeAs: 'heif' },
  'image/avif': { kind: 'IMAGE', detected: ['image/avif'], decodeAs: 'heif' },
  'video/mp4': { kind: 'VIDEO', detected: ['video/mp4', 'video/x-m4v'], decodeAs: 'mov' },
  'video/quicktime': { kind: 'VIDEO', detected: ['video/quicktime'], decodeAs: 'mov' },
  'video/webm': { kind: 'VIDEO', detected: ['video/webm'], decodeAs: 'matroska' },
};

export interface SizeLimits {
  maxImageBytes: number;
  maxVideoBytes: number;
}

export type DeclaredUpload =
  | { ok: true; contentType: string; kind: MediaKindName }
  | { ok: false; field: 'contentType' | 'size'; message: string; maxBytes?: number };

/** Checks what the client declares before anything is reserved. */
export function checkDeclaredUpload(contentType: string, size: number, limits: SizeLimits): DeclaredUpload {
  const normalized = contentType.trim().toLowerCase();
  const accepted = ACCEPTED_TYPES[normalized];
  if (!accepted) {
    return { ok: false, field: 'contentType', message: `Unsupported content type; accepted: ${Object.keys(ACCEPTED_TYPES).join(', ')}` };
  }
  if (size < 1) return { ok: false, field: 'size', message: 'Size must be at least 1 byte' };
  const maxBytes = accepted.kind === 'IMAGE' ? limits.maxImageBytes : limits.maxVideoBytes;
  if (size > maxBytes) {
    return { ok: false, field: 'size', message: `${accepted.kind === 'IMAGE' ? 'Images' : 'Videos'} may be at most ${maxBytes} bytes`, maxBytes };
  }
  return { ok: true, contentType: normalized, kind: accepted.kind };
}

/** Why an uploaded object is rejected by `completeUpload`, or null when it is what was declared. */
export function uploadMismatch(
  declared: { contentType: string; size: number },
  actual: { size: number; storedContentType: string | undefined; detectedType: string | undefined },
): 'SIZE_MISMATCH' | 'TYPE_MISMATCH' | null {
  if (actual.size < 1 || actual.size > declared.size) return 'SIZE_MISMATCH';
  const accepted = ACCEPTED_TYPES[declared.contentType];
  if (!accepted || !actual.detectedType || !accepted.detected.includes(actual.detectedType)) return 'TYPE_MISMATCH';
  if (actual.storedContentType !== undefined && actual.storedContentType.toLowerCase() !== declared.contentType) return 'TYPE_MISMATCH';
  return null;
}
