import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

/** A deterministic pseudo-random generator (mulberry32): the same seed gives the same demo network. */
export function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hue = (n: number) => `hsl(${Math.round(n * 360)}, 65%, 55%)`;

/** A round avatar with the user's initials on a colour of their own. */
export function avatar(name: string, rand: () => number): Promise<Buffer> {
  const initials = name
    .split(/[\s_]+/)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('')
    .slice(0, 2);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256">
    <rect width="256" height="256" fill="${hue(rand())}"/>
    <text x="128" y="160" font-family="DejaVu Sans, sans-serif" font-size="96" font-weight="bold" fill="#fff" text-anchor="middle">${initials}</text>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

/** A landscape-like picture: a sky gradient, a sun and hills, in colours drawn from `rand`. */
export function scene(rand: () => number): Promise<Buffer> {
  const [w, h] = rand() < 0.5 ? [1080, 1080] : [1350, 1080];
  const hills = Array.from({ length: 3 }, (_, i) => {
    const base = h * (0.55 + i * 0.12);
    const points = Array.from({ length: 6 }, (_, j) => `${(w / 5) * j},${base - rand() * h * 0.25}`).join(' ');
    return `<polygon points="0,${h} ${points} ${w},${h}" fill="hsl(${90 + rand() * 60}, 40%, ${18 + i * 10}%)"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <defs><linearGradient id="s" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hue(rand())}"/><stop offset="1" stop-color="${hue(rand())}"/></linearGradient></defs>
    <rect width="${w}" height="${h}" fill="url(#s)"/>
    <circle cx="${w * (0.2 + rand() * 0.6)}" cy="${h * (0.15 + rand() * 0.2)}" r="${h * (0.06 + rand() * 0.06)}" fill="#fff6d0"/>
    ${hills}
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 82 }).toBuffer();
}

/** A short H.264/AAC clip made by ffmpeg (a test pattern and a tone). */
export async function clip(ffmpegPath: string, seconds: number, pattern: 'testsrc2' | 'mandelbrot'): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'insta-demo-'));
  const out = join(dir, 'clip.mp4');
  try {
    await new Promise<void>((resolve, reject) => {
      const source =
        pattern === 'testsrc2'
          ? `testsrc2=size=1280x720:rate=24:duration=${seconds}`
          : `mandelbrot=size=1280x720:rate=24`;
      const args = [
        '-hide_banner',
        '-loglevel',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        source,
        '-f',
        'lavfi',
        '-i',
        `sine=frequency=330:duration=${seconds}`,
      ];
      args.push(
        '-t',
        String(seconds),
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-shortest',
        '-movflags',
        '+faststart',
        out,
      );
      const child = spawn(ffmpegPath, args, { stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
    });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
