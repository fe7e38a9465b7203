import { spawn } from 'node:child_process';

/** Whether this process can transcode videos: ffmpeg and ffprobe both start (`-version`). */
export interface VideoToolsStatus {
  available: boolean;
  /** The binaries that did not start, as configured (FFMPEG_PATH / FFPROBE_PATH). */
  missing: string[];
}

const CHECK_TIMEOUT_MS = 10_000;

function starts(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, ['-version'], { stdio: 'ignore', timeout: CHECK_TIMEOUT_MS, killSignal: 'SIGKILL' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

/** Checked once at start: video uploads are refused (VIDEO_PROCESSING_UNAVAILABLE) rather than failed later. */
export async function checkVideoTools(paths: { ffmpegPath: string; ffprobePath: string }): Promise<VideoToolsStatus> {
  const binaries = [paths.ffmpegPath, paths.ffprobePath];
  const results = await Promise.all(binaries.map(starts));
  const missing = binaries.filter((_, i) => !results[i]);
  return { available: missing.length === 0, missing };
}

/** What an operator reads when the tools are missing (logged by the media subgraph, printed by `npm start`). */
export function videoToolsAdvice(status: VideoToolsStatus): string {
  return [
    `Video processing is off: ${status.missing.join(' and ')} did not start.`,
    'Video uploads are refused with VIDEO_PROCESSING_UNAVAILABLE; images work.',
    'Videos need ffmpeg and ffprobe (H.264/AAC encoders) on the PATH, or FFMPEG_PATH / FFPROBE_PATH:',
    '  Debian/Ubuntu: apt-get install ffmpeg   macOS: brew install ffmpeg   Windows: winget install ffmpeg',
    'then restart.',
  ].join('\n');
}

/** ffmpeg or ffprobe could not be started at all (removed since the start check). */
export function isMissingTool(error: unknown): boolean {
  const e = error as { code?: unknown; syscall?: unknown } | null;
  return e?.code === 'ENOENT' && typeof e.syscall === 'string' && e.syscall.startsWith('spawn');
}
