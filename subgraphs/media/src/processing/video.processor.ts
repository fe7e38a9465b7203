import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { encode } from 'blurhash';
import sharp from 'sharp';
import { UnprocessableMediaError } from './errors.ts';
import type { ProducedFile } from './image.processor.ts';

export interface VideoTools {
  ffmpegPath: string;
  ffprobePath: string;
  maxSeconds: number;
  /** ffmpeg/ffprobe are killed after this long, so a stuck transcode never outlives its job's ack window. */
  timeoutMs: number;
}

export interface VideoResult {
  width: number;
  height: number;
  durationMs: number;
  blurhash: string;
  files: ProducedFile[];
}

/** HLS renditions by short edge, with H.264 video bit rates; audio is AAC 128 kb/s stereo. */
const LADDER = [
  { edge: 360, videoKbps: 800 },
  { edge: 720, videoKbps: 2800 },
  { edge: 1080, videoKbps: 5000 },
] as const;
const SEGMENT_SECONDS = 4;
const POSTER_EDGE = 1080;

interface Probe {
  width: number;
  height: number;
  durationMs: number;
  hasAudio: boolean;
}

class ToolError extends Error {}

/** Runs a tool; `signal` (the job abandoned on shutdown) kills it and rejects with an AbortError. */
function run(command: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL', signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new ToolError(`${command} exited with ${signal ?? code}: ${stderr.trim()}`));
    });
  });
}

interface FfprobeOutput {
  streams?: { codec_type?: string; width?: number; height?: number; tags?: { rotate?: string }; side_data_list?: { rotation?: number }[] }[];
  format?: { duration?: string };
}

/**
 * How ffprobe and ffmpeg open the original: with the demuxer of its verified type, never one guessed from the
 * content (the HLS and concat demuxers would read the files or URLs a playlist names), and through the file
 * protocol only.
 */
const inputArgs = (input: string, demuxer: string) => ['-protocol_whitelist', 'file', '-f', demuxer, '-i', input];

async function probe(input: string, demuxer: string, tools: VideoTools, signal?: AbortSignal): Promise<Probe> {
  let out: FfprobeOutput;
  try {
    const args = ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', ...inputArgs(input, demuxer)];
    const json = await run(tools.ffprobePath, args, tools.timeoutMs, signal);
    out = JSON.parse(json) as FfprobeOutput;
  } catch (error) {
    if (error instanceof ToolError) throw new UnprocessableMediaError('UNDECODABLE', error.message);
    throw error;
  }
  const video = out.streams?.find((s) => s.codec_type === 'video' && s.width && s.height);
  if (!video?.width || !video.height) throw new UnprocessableMediaError('NO_VIDEO_STREAM', 'no video stream');
  const rotation = Number(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? video.tags?.rotate ?? 0);
  // ffmpeg applies the rotation when transcoding, so dimensions are given as displayed.
  const quarterTurn = Math.abs(rotation) % 180 === 90;
  const durationMs = Math.round(Number(out.format?.duration ?? 0) * 1000);
  if (!(durationMs > 0)) throw new UnprocessableMediaError('UNDECODABLE', 'unknown duration');
  return {
    width: quarterTurn ? video.height : video.width,
    height: quarterTurn ? video.width : video.height,
    durationMs,
    hasAudio: out.streams?.some((s) => s.codec_type === 'audio') ?? false,
  };
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

/** The ladder rungs below the source's short edge, then one at the source size: nothing is upscaled. */
export function renditionsFor(width: number, height: number) {
  const shortEdge = Math.min(width, height);
  const rungs: { edge: number; videoKbps: number }[] = [];
  for (const rung of LADDER) {
    rungs.push({ edge: Math.min(rung.edge, shortEdge), videoKbps: rung.videoKbps });
    if (rung.edge >= shortEdge) break;
  }
  return rungs.map((r) => {
    const scale = r.edge / shortEdge;
    return { name: `${even(r.edge)}p`, width: even(width * scale), height: even(height * scale), videoKbps: r.videoKbps };
  });
}

/**
 * HLS (H.264/AAC, one rendition per rung, aligned key frames) and a poster frame, written into `outDir`;
 * intermediate files go to `scratchDir`. `demuxer` is the ffmpeg input format of the verified type ("mov",
 * "matroska"): an input of any other format fails to open and is UNDECODABLE.
 */
export async function processVideo(input: string, demuxer: string, outDir: string, scratchDir: string, tools: VideoTools, signal?: AbortSignal): Promise<VideoResult> {
  const source = await probe(input, demuxer, tools, signal);
  if (source.durationMs > tools.maxSeconds * 1000) {
    throw new UnprocessableMediaError('TOO_LONG', `${source.durationMs} ms is longer than ${tools.maxSeconds} s`);
  }
  const renditions = renditionsFor(source.width, source.height);
  for (const r of renditions) await mkdir(join(outDir, r.name), { recursive: true });

  const filter = [
    `[0:v]split=${renditions.length}${renditions.map((_, i) => `[s${i}]`).join('')}`,
    ...renditions.map((r, i) => `[s${i}]scale=${r.width}:${r.height}[v${i}]`),
  ].join(';');
  const args = ['-hide_banner', '-loglevel', 'error', '-y', ...inputArgs(input, demuxer), '-filter_complex', filter];
  renditions.forEach((r, i) => {
    args.push('-map', `[v${i}]`);
    if (source.hasAudio) args.push('-map', '0:a:0');
    args.push(`-b:v:${i}`, `${r.videoKbps}k`, `-maxrate:v:${i}`, `${Math.round(r.videoKbps * 1.07)}k`, `-bufsize:v:${i}`, `${r.videoKbps * 2}k`);
  });
  args.push(
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-force_key_frames', `expr:gte(t,n_forced*${SEGMENT_SECONDS})`, '-sc_threshold', '0',
  );
  if (source.hasAudio) args.push('-c:a', 'aac', '-b:a', '128k', '-ac', '2');
  args.push(
    '-f', 'hls', '-hls_time', String(SEGMENT_SECONDS), '-hls_playlist_type', 'vod', '-hls_flags', 'independent_segments',
    '-hls_segment_filename', join(outDir, '%v', 'segment_%03d.ts'),
    '-master_pl_name', 'master.m3u8',
    '-var_stream_map', renditions.map((r, i) => `v:${i}${source.hasAudio ? `,a:${i}` : ''},name:${r.name}`).join(' '),
    join(outDir, '%v', 'index.m3u8'),
  );
  await runTranscode(tools.ffmpegPath, args, tools.timeoutMs, signal);

  const frame = join(scratchDir, 'poster-frame.png');
  const at = Math.min(1, source.durationMs / 3000).toFixed(3);
  await runTranscode(tools.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-y', '-ss', at, ...inputArgs(input, demuxer), '-frames:v', '1', frame], tools.timeoutMs, signal);
  const poster = await sharp(frame)
    .resize({ width: POSTER_EDGE, height: POSTER_EDGE, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 82, progressive: true })
    .toFile(join(outDir, 'poster.jpeg'));
  const { data, info } = await sharp(frame).resize(32, 32, { fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });

  const top = renditions[renditions.length - 1]!;
  const mpegUrl = 'application/vnd.apple.mpegurl';
  return {
    width: source.width,
    height: source.height,
    durationMs: source.durationMs,
    blurhash: encode(new Uint8ClampedArray(data), info.width, info.height, 4, 3),
    files: [
      { name: 'hls', file: 'master.m3u8', contentType: mpegUrl, width: top.width, height: top.height },
      ...renditions.map((r) => ({ name: `hls-${r.name}`, file: `${r.name}/index.m3u8`, contentType: mpegUrl, width: r.width, height: r.height })),
      { name: 'poster', file: 'poster.jpeg', contentType: 'image/jpeg', width: poster.width, height: poster.height },
    ],
  };
}

/** A transcode that fails on a file ffprobe accepted is the file's fault (corrupt stream), not a transient one. */
async function runTranscode(command: string, args: string[], timeoutMs: number, signal?: AbortSignal) {
  try {
    await run(command, args, timeoutMs, signal);
  } catch (error) {
    if (error instanceof ToolError && !/SIGKILL/.test(error.message)) throw new UnprocessableMediaError('UNDECODABLE', error.message);
    throw error;
  }
}
