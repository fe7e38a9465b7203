import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorWithFollowers, burst, feedsConverge, report } from '../src/scenario.ts';
import { startStage, type Stage } from '../src/stage.ts';
import { ApiError, signUpOrIn, uniqueName, wholeFeed } from '../src/workload.ts';

describe("the deployment's Redis keys deleted", () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage({ name: 'redis-loss' });
  });
  afterAll(async () => {
    await stage?.stop();
  });

  it('should rebuild every feed identically and resurrect no signed-out session', async () => {
    const { client } = stage;
    const { author, followers } = await authorWithFollowers(client, 'rl', 8);
    const posts = await burst(client, author, 20, 4);
    await feedsConverge(client, followers, posts, 30_000);
    const before = await Promise.all(followers.map((f) => wholeFeed(client, f)));

    const leaver = await signUpOrIn(client, uniqueName('rl_out'));
    await client.gql('mutation { signOut }', {}, leaver.token);
    const expectSignedOut = async () => {
      const error = await client.gql('{ me { id } }', {}, leaver.token).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    };
    await expectSignedOut();

    const redis = new Redis(stage.redis.url);
    const keys = await redis.dbsize();
    await redis.flushall();
    redis.disconnect();

    await expectSignedOut();
    const startedAt = Date.now();
    const after = await Promise.all(followers.map((f) => wholeFeed(client, f)));
    expect(after).toEqual(before);
    report('Redis keys deleted', {
      keysDeleted: keys,
      feedsIdentical: true,
      rebuildAllFeedsMs: Date.now() - startedAt,
      sessionsResurrected: 0,
    });
  });
});
