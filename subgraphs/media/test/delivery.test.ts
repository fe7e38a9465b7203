import { describe, expect, it } from 'vitest';
import { clientHints, findVariant, pickVariant } from '../src/delivery.ts';
import type { VariantRecord } from '../src/media.repository.ts';
import { sizesFor } from '../src/processing/image.processor.ts';
import { renditionsFor } from '../src/processing/video.processor.ts';

const variant = (name: string, width: number, contentType: string): VariantRecord => ({
  mediaId: 'm',
  name,
  objectKey: `media/m/${name}`,
  contentType,
  width,
  height: Math.round(width * 0.75),
  size: 1,
});
const image = [150, 640, 1080, 2048].flatMap((w, i) => {
  const size = ['thumb', 'small', 'medium', 'large'][i]!;
  return [variant(`${size}-webp`, w, 'image/webp'), variant(`${size}-jpeg`, w, 'image/jpeg')];
});
const video = [
  variant('hls', 1280, 'application/vnd.apple.mpegurl'),
  variant('hls-720p', 1280, 'application/vnd.apple.mpegurl'),
  variant('hls-360p', 640, 'application/vnd.apple.mpegurl'),
  variant('poster', 1080, 'image/jpeg'),
];
const hints = (headers: Record<string, string>) => clientHints(headers);

describe('adaptive delivery', () => {
  it('should pick the narrowest WebP covering Viewport-Width × DPR', () => {
    expect(pickVariant('IMAGE', image, hints({ 'viewport-width': '400', dpr: '1' }))?.name).toBe('small-webp');
    expect(pickVariant('IMAGE', image, hints({ 'viewport-width': '400', dpr: '2' }))?.name).toBe('medium-webp');
    expect(pickVariant('IMAGE', image, hints({ 'viewport-width': '1440', dpr: '2' }))?.name).toBe('large-webp');
    expect(pickVariant('IMAGE', image, hints({}))?.name).toBe('medium-webp');
  });

  it('should stay at or below 640 pixels wide with Save-Data, whatever the DPR', () => {
    expect(pickVariant('IMAGE', image, hints({ 'save-data': 'on', 'viewport-width': '1440', dpr: '3' }))?.name).toBe('small-webp');
    expect(pickVariant('IMAGE', image, hints({ 'save-data': 'on', 'viewport-width': '100' }))?.name).toBe('thumb-webp');
  });

  it('should serve the HLS master playlist, or the lowest rendition with Save-Data', () => {
    expect(pickVariant('VIDEO', video, hints({}))?.name).toBe('hls');
    expect(pickVariant('VIDEO', video, hints({ 'save-data': 'on' }))?.name).toBe('hls-360p');
  });

  it('should ignore malformed hints', () => {
    expect(hints({ dpr: 'abc', 'viewport-width': '-3', 'save-data': 'yes' })).toEqual({ saveData: false, dpr: 1, viewportWidth: null });
    expect(hints({ dpr: '9' }).dpr).toBe(3);
  });

  it('should find a variant by exact name or by size name meaning WebP', () => {
    expect(findVariant(image, 'small')?.name).toBe('small-webp');
    expect(findVariant(image, 'small-jpeg')?.name).toBe('small-jpeg');
    expect(findVariant(image, 'huge')).toBeUndefined();
  });
});

describe('variant plans', () => {
  it('should never upscale an image nor make the same size twice', () => {
    expect(sizesFor(4000)).toEqual([
      { name: 'thumb', edge: 150 },
      { name: 'small', edge: 640 },
      { name: 'medium', edge: 1080 },
      { name: 'large', edge: 2048 },
    ]);
    expect(sizesFor(800)).toEqual([
      { name: 'thumb', edge: 150 },
      { name: 'small', edge: 640 },
      { name: 'medium', edge: 800 },
    ]);
    expect(sizesFor(100)).toEqual([{ name: 'thumb', edge: 100 }]);
  });

  it('should make HLS renditions up to the source size, portrait included', () => {
    expect(renditionsFor(1920, 1080).map((r) => [r.name, r.width, r.height])).toEqual([
      ['360p', 640, 360],
      ['720p', 1280, 720],
      ['1080p', 1920, 1080],
    ]);
    expect(renditionsFor(720, 1280).map((r) => [r.name, r.width, r.height])).toEqual([
      ['360p', 360, 640],
      ['720p', 720, 1280],
    ]);
    expect(renditionsFor(854, 480).map((r) => r.name)).toEqual(['360p', '480p']);
  });
});
