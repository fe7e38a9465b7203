import type { IncomingHttpHeaders } from 'node:http';
import type { MediaKind } from '@insta/db';
import type { VariantRecord } from './media.repository.ts';

/** What the client told the gateway about its screen and network (forwarded as request headers). */
export interface ClientHints {
  saveData: boolean;
  /** Device pixels per CSS pixel, 1–3. */
  dpr: number;
  /** CSS pixels, when the client sent it. */
  viewportWidth: number | null;
}

const MAX_DPR = 3;
/** Target width in device pixels when the client sends no Viewport-Width. */
const DEFAULT_TARGET_WIDTH = 1080;
/** With Save-Data, images are never picked with a longer edge than this (the `small` size). */
const SAVE_DATA_MAX_EDGE = 640;

const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export function clientHints(headers: IncomingHttpHeaders): ClientHints {
  const saveData = header(headers, 'save-data')?.trim().toLowerCase() === 'on';
  const dpr = Number(header(headers, 'dpr'));
  const viewportWidth = Number.parseInt(header(headers, 'viewport-width') ?? '', 10);
  return {
    saveData,
    dpr: Number.isFinite(dpr) && dpr > 0 ? Math.min(Math.max(dpr, 1), MAX_DPR) : 1,
    viewportWidth: Number.isFinite(viewportWidth) && viewportWidth > 0 ? viewportWidth : null,
  };
}

/** A variant by exact name ("small-jpeg", "hls-360p", "poster"), or an image size name meaning its WebP. */
export function findVariant(variants: readonly VariantRecord[], name: string): VariantRecord | undefined {
  return variants.find((v) => v.name === name) ?? variants.find((v) => v.name === `${name}-webp`);
}

/**
 * The variant for a client that did not name one. Images: the narrowest WebP at least Viewport-Width × DPR
 * device pixels wide (1080 without Viewport-Width), the widest if none is; Save-Data counts DPR as 1 and picks
 * among the WebPs no larger than 640 on their long edge (the narrowest if none is). Videos: the HLS master playlist (the player
 * adapts), or with Save-Data the lowest rendition's playlist.
 */
export function pickVariant(kind: MediaKind, variants: readonly VariantRecord[], hints: ClientHints): VariantRecord | undefined {
  if (kind === 'VIDEO') {
    if (!hints.saveData) return variants.find((v) => v.name === 'hls');
    return variants.filter((v) => v.name.startsWith('hls-')).sort((a, b) => a.width * a.height - b.width * b.height)[0];
  }
  const webp = variants.filter((v) => v.contentType === 'image/webp').sort((a, b) => a.width - b.width);
  const dpr = hints.saveData ? 1 : hints.dpr;
  const target = hints.viewportWidth ? hints.viewportWidth * dpr : DEFAULT_TARGET_WIDTH;
  const candidates = hints.saveData ? webp.filter((v, i) => i === 0 || Math.max(v.width, v.height) <= SAVE_DATA_MAX_EDGE) : webp;
  return candidates.find((v) => v.width >= target) ?? candidates[candidates.length - 1];
}
