import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorWithFollowers, burst, deadLetterCount, feedsConverge, report } from '../src/scenario.ts';
import { startStage, type Stage } from '../src/stage.ts';
import { converge, mediaStatus, pool, upload } from '../src/workload.ts';

describe('kill -9 of the feed and media workers mid-burst', () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage({ name: 'workers-killed' });
  });
  afterAll(async () => {
    await stage?.stop();
  });

  it('should put every post in every follower timeline exactly once after the feed process is killed mid-burst', async () => {
    const { client, topology } = stage;
    const { author, followers } = await authorWithFollowers(client, 'wk', 12);
    const feed = topology.instances('feed')[0]!;
    let restarted: Promise<void> | undefined;
    const posts = await burst(client, author, 40, 4, async (i) => {
      if (i === 12) {
        await feed.kill('SIGKILL');
        restarted = new Promise((r) => setTimeout(r, 500)).then(() => feed.start());
      }
    });
    const restartedAt = Date.now();
    await restarted;
    const ms = await feedsConverge(client, followers, posts, 60_000);
    expect(await deadLetterCount(stage.nats.url, stage.prefix)).toBe(0);
    report('feed kill -9 mid-burst', {
      posts: posts.length,
      followers: followers.length,
      convergeAfterRestartMs: Date.now() - restartedAt,
      pollMs: ms,
      lost: 0,
      duplicated: 0,
    });
  });

  it('should finish every media job after the media process is killed while processing', async () => {
    const { client, topology } = stage;
    const { author } = await authorWithFollowers(client, 'wm', 0);
    const image = await sharp({
      create: {
        width: 2400,
        height: 1600,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    const mediaIds = await pool([0, 1, 2, 3], 4, () => upload(client, author, image, 'image/jpeg'));
    const media = topology.instances('media')[0]!;
    await media.kill('SIGKILL');
    const killedAt = Date.now();
    await media.start();
    await converge(
      async () =>
        (await Promise.all(mediaIds.map((id) => mediaStatus(client, author, id)))).every((s) => s === 'READY'),
      90_000,
    );
    report('media kill -9 while processing', {
      jobs: mediaIds.length,
      readyAfterKillMs: Date.now() - killedAt,
      lost: 0,
    });
  });
});
