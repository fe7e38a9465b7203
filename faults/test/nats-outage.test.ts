import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorWithFollowers, burst, deadLetterCount, feedsConverge, report } from '../src/scenario.ts';
import { startStage, type Stage } from '../src/stage.ts';
import { converge, like, likeCount, likeNotifications, pool } from '../src/workload.ts';

describe('NATS stopped and started during posts and likes', () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage({ name: 'nats-outage' });
  });
  afterAll(async () => {
    await stage?.stop();
  });

  it('should lose no post, like or notification across a 10-s NATS outage', async () => {
    const { client } = stage;
    const { author, followers } = await authorWithFollowers(client, 'no', 10);
    const before = await burst(client, author, 5, 2);
    await stage.nats.stop();
    const stoppedAt = Date.now();
    // Writes go on while the broker is down: they are committed with their outbox rows and relayed later.
    const during = await burst(client, author, 15, 3);
    await pool(followers, 5, (f) => pool(before, 5, (p) => like(client, f, p)));
    const wait = 10_000 - (Date.now() - stoppedAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await stage.nats.start();
    const startedAt = Date.now();
    const posts = [...before, ...during];
    await feedsConverge(client, followers, posts, 60_000);
    const feedsMs = Date.now() - startedAt;
    for (const post of before) expect(await likeCount(client, author, post)).toBe(followers.length);
    await converge(async () => {
      const groups = await likeNotifications(client, author);
      return before.every((p) => groups.get(p) === followers.length);
    }, 60_000);
    expect(await deadLetterCount(stage.nats.url, stage.prefix)).toBe(0);
    report('NATS outage 10 s during posts and likes', {
      outageMs: startedAt - stoppedAt,
      postsDuringOutage: during.length,
      likesDuringOutage: before.length * followers.length,
      feedsConvergedAfterRestartMs: feedsMs,
      notificationsConvergedAfterRestartMs: Date.now() - startedAt,
      lost: 0,
      duplicated: 0,
    });
  });
});
