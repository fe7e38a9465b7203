import { join } from 'node:path';
import { encode } from 'blurhash';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { UnprocessableMediaError } from './errors.ts';

/** Image sizes by long edge. The smallest first: `url` without a variant picks the first wide enough. */
export const IMAGE_SIZES = [
  { name: 'thumb', edge: 150 },
  { name: 'small', edge: 640 },
  { name: 'medium', edge: 1080 },
  { name: 'large', edge: 2048 },
] as const;

/** A variant written by a processor: `file` is relative to the output directory (and to the media's key prefix). */
export interface ProducedFile {
  name: string;
  file: string;
  contentType: string;
  width: number;
  height: number;
}

export interface ImageResult {
  width: number;
  height: number;
  blurhash: string;
  files: ProducedFile[];
}

const FORMATS = [
  { suffix: 'webp', contentType: 'image/webp', encode: (s: Sharp) => s.webp({ quality: 80, effort: 2 }) },
  { suffix: 'jpeg', contentType: 'image/jpeg', encode: (s: Sharp) => s.jpeg({ quality: 82, progressive: true }) },
] as const;

/**
 * The sizes to make for an image with this long edge: each smaller size, then one at the original size (named by
 * the next size up) unless the original is larger than every size. Nothing is upscaled or made twice.
 */
export function sizesFor(longEdge: number) {
  const sizes: { name: string; edge: number }[] = [];
  for (const size of IMAGE_SIZES) {
    sizes.push({ name: size.name, edge: Math.min(size.edge, longEdge) });
    if (size.edge >= longEdge) break;
  }
  return sizes;
}

/**
 * Auto-orients (the EXIF orientation is applied, then dropped), strips every other metadata (EXIF, GPS, XMP)
 * but keeps the ICC colour profile, and writes each size in WebP and JPEG into `outDir`. `format` is the one
 * sharp must find (libvips picks its loader from the content): an input of any other format is refused.
 */
export async function processImage(input: string, outDir: string, format: string): Promise<ImageResult> {
  // Only the first frame of animated GIF/WebP: a still per size, like the JPEG fallback must be anyway.
  const open = () => sharp(input, { failOn: 'error', autoOrient: true });
  let meta: Metadata;
  try {
    meta = await open().metadata();
  } catch (error) {
    throw new UnprocessableMediaError('UNDECODABLE', error instanceof Error ? error.message : String(error));
  }
  if (meta.format !== format) throw new UnprocessableMediaError('TYPE_MISMATCH', `a ${meta.format} image, not ${format}`);
  const { width, height } = meta.autoOrient;
  const longEdge = Math.max(width, height);
  const outputs = sizesFor(longEdge).flatMap((size) => FORMATS.map((format) => ({ size, format })));
  try {
    const files = await Promise.all(
      outputs.map(async ({ size, format }) => {
        const name = `${size.name}-${format.suffix}`;
        const file = `${name}.${format.suffix}`;
        const pipeline = open().resize({ width: size.edge, height: size.edge, fit: 'inside', withoutEnlargement: true }).keepIccProfile();
        const info = await format.encode(pipeline).toFile(join(outDir, file));
        return { name, file, contentType: format.contentType, width: info.width, height: info.height };
      }),
    );
    const { data, info } = await open().resize(32, 32, { fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const blurhash = encode(new Uint8ClampedArray(data), info.width, info.height, 4, 3);
    return { width, height, blurhash, files };
  } catch (error) {
    // The input is a local file: anything but an OS error (ENOSPC, EMFILE...) is the image's own fault.
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === undefined) {
      throw new UnprocessableMediaError('UNDECODABLE', error.message);
    }
    throw error;
  }
}
