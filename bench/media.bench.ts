/**
 * Image processing throughput: the media worker's sharp pipeline (auto-orient, strip metadata, 4 sizes × WebP +
 * JPEG, blurhash) on a 12 MP JPEG, in process, one image at a time and then as many at once as there are cores.
 * "req/s" in the table is images per second.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { processImage } from '../subgraphs/media/src/processing/image.processor.ts';
import { intFromEnv, type BenchReport, type TargetResult } from './lib.ts';

const WIDTH = 4000;
const HEIGHT = 3000;

/** A photo-like 12 MP JPEG: gradients plus noise, so encoders cannot cheat on flat colour. */
async function twelveMegapixelJpeg(): Promise<Buffer> {
  const noise = await sharp({
    create: {
      width: WIDTH,
      height: HEIGHT,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .blur(1.5)
    .png({ compressionLevel: 1 })
    .toBuffer();
  return sharp(noise)
    .linear([0.8, 0.6, 1.1], [20, 0, -10])
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function measure(
  input: string,
  dir: string,
  images: number,
  concurrency: number,
): Promise<{ perSec: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async (lane: number): Promise<void> => {
    while (next < images) {
      const i = next++;
      const out = join(dir, `out-${lane}-${i}`);
      await mkdir(out);
      const t0 = performance.now();
      await processImage(input, out, 'jpeg');
      latencies.push(performance.now() - t0);
      await rm(out, { recursive: true, force: true });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  const elapsedS = (performance.now() - started) / 1000;
  return { perSec: images / elapsedS, latencies: latencies.sort((a, b) => a - b) };
}

export default async function mediaBench(): Promise<BenchReport> {
  const images = intFromEnv('BENCH_MEDIA_IMAGES', 12);
  const warmup = intFromEnv('BENCH_MEDIA_WARMUP', 2);
  const cores = availableParallelism();
  const dir = await mkdtemp(join(tmpdir(), 'media-bench-'));
  try {
    const input = join(dir, 'photo.jpeg');
    const jpeg = await twelveMegapixelJpeg();
    await writeFile(input, jpeg);
    await measure(input, dir, warmup, 1);

    const results: TargetResult[] = [];
    for (const concurrency of [...new Set([1, cores])]) {
      const { perSec, latencies } = await measure(input, dir, images, concurrency);
      const round = (n: number) => Math.round(n * 10) / 10;
      results.push({
        target: `c${concurrency}`,
        description: `processImage on a ${WIDTH}×${HEIGHT} JPEG (${Math.round(jpeg.length / 1024)} KiB), ${concurrency} at a time`,
        url: 'in-process',
        requestsPerSec: round(perSec),
        requestsTotal: images,
        latencyMs: {
          p50: round(percentile(latencies, 50)),
          p90: round(percentile(latencies, 90)),
          p99: round(percentile(latencies, 99)),
          mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
          max: round(latencies[latencies.length - 1] ?? 0),
        },
        failures: { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 },
      });
    }
    const single = results[0]!.requestsPerSec;
    return {
      settings: { images, warmup, width: WIDTH, height: HEIGHT, sharpConcurrency: sharp.concurrency(), cores },
      results,
      ratios:
        results.length > 1 ? { parallelSpeedup: Math.round((results[1]!.requestsPerSec / single) * 100) / 100 } : {},
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
