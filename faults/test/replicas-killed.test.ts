import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceName } from '@insta/topology';
import { authorWithFollowers, burst, deadLetterCount, feedsConverge, report } from '../src/scenario.ts';
import { startStage, type Stage } from '../src/stage.ts';
import { converge, like, likeCount, likeNotifications, pool } from '../src/workload.ts';

const SERVICES: ServiceName[] = ['users', 'posts', 'feed', 'social-graph', 'media', 'gateway'];

describe('one of two replicas of each service killed under load', () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage({
      name: 'replicas-killed',
      replicas: Object.fromEntries(SERVICES.map((s) => [s, 2])),
    });
  });
  afterAll(async () => {
    await stage?.stop();
  });

  it('should keep every post, like and notification exactly once', async () => {
    const { client, topology } = stage;
    const { author, followers } = await authorWithFollowers(client, 'rk', 10);
    const kills: Promise<unknown>[] = [];
    const posts = await burst(client, author, 36, 4, (i) => {
      const service = SERVICES[i / 6];
      if (i % 6 === 0 && service) kills.push(topology.instances(service)[1]!.kill('SIGKILL'));
    });
    await Promise.all(kills);
    const killedAt = Date.now();
    await pool(followers, 5, (f) => pool(posts.slice(0, 6), 3, (p) => like(client, f, p)));
    await feedsConverge(client, followers, posts, 60_000);
    for (const post of posts.slice(0, 6)) expect(await likeCount(client, author, post)).toBe(followers.length);
    await converge(async () => {
      const groups = await likeNotifications(client, author);
      return posts.slice(0, 6).every((p) => groups.get(p) === followers.length);
    }, 60_000);
    expect(await deadLetterCount(stage.nats.url, stage.prefix)).toBe(0);
    report('one of two replicas of every service killed (kill -9) under load', {
      posts: posts.length,
      likes: 6 * followers.length,
      convergedAfterLastKillMs: Date.now() - killedAt,
      clientRetries: client.stats.retries,
      retryable: client.stats.retryable,
      lost: 0,
      duplicated: 0,
    });
    await Promise.all(SERVICES.map((s) => topology.instances(s)[1]!.start()));
  });
});
