import { z } from 'zod';
import { env, loadConfig } from '@insta/infra';
import { checkVideoTools } from '@insta/media';
import { seedDemo, type SeedSummary } from './seed.ts';

/** Variables of `npm run seed` (and of `npm start -- --demo`, which seeds its own gateway). */
export const seedEnvSchema = z.object({
  SEED_GATEWAY_URL: env.url().default('http://127.0.0.1:4000/graphql'),
  SEED_USERS: env.int(200, 0),
  FFMPEG_PATH: z.string().default('ffmpeg'),
  FFPROBE_PATH: z.string().default('ffprobe'),
});

/** A progress line that rewrites itself on a terminal, and one line per finished step elsewhere. */
function progressLine(stream: NodeJS.WriteStream) {
  return (step: string, done: number, total: number) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const line = `  seeding ${step.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
    if (stream.isTTY) stream.write(`\r${line}${done === total ? '\n' : ''}`);
    else if (done === total) stream.write(`${line}\n`);
  };
}

export function formatSummary(s: SeedSummary, appUrl: string | null): string {
  return [
    '',
    `  Demo data: ${s.users} users (${s.privateAccounts} private), ${s.follows} follows (${s.pendingRequests} requests pending),`,
    `  ${s.posts} posts (${s.videos} videos), ${s.likes} likes, ${s.comments} new comments.`,
    '  Sign in as:',
    ...s.credentials.map((c) => `    ${c.login} / ${c.password}   ${c.note}`),
    ...(appUrl ? [`  in the web client: ${appUrl}`] : []),
    '',
  ].join('\n');
}

/** Seeds the gateway at `url` (or SEED_GATEWAY_URL), with videos when ffmpeg is here. */
export async function runSeed(source: NodeJS.ProcessEnv, url?: string): Promise<SeedSummary> {
  const config = loadConfig(seedEnvSchema, source);
  const tools = await checkVideoTools({ ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH });
  return seedDemo({
    url: url ?? config.SEED_GATEWAY_URL,
    users: config.SEED_USERS,
    ffmpegPath: tools.available ? config.FFMPEG_PATH : null,
    progress: progressLine(process.stderr),
  });
}
