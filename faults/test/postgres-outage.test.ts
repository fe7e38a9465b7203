import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorWithFollowers, burst, deadLetterCount, feedsConverge, report } from '../src/scenario.ts';
import { startStage, type Stage } from '../src/stage.ts';

describe('Postgres stopped for 15 s during a burst of posts', () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage({ name: 'pg-outage', privatePostgres: true });
  });
  afterAll(async () => {
    await stage?.stop();
  });

  it('should answer retryable errors during the outage and fan out every post exactly once after it', async () => {
    const { client } = stage;
    const postgres = stage.postgres!;
    const { author, followers } = await authorWithFollowers(client, 'po', 12);
    let outage: Promise<void> | undefined;
    let stoppedAt = 0;
    let startedAt = 0;
    const posts = await burst(client, author, 60, 4, async (i) => {
      if (i === 20) {
        await postgres.stop();
        stoppedAt = Date.now();
        outage = new Promise((r) => setTimeout(r, 15_000))
          .then(() => postgres.start())
          .then(() => {
            startedAt = Date.now();
          });
      }
    });
    await outage;
    const ms = await feedsConverge(client, followers, posts, 90_000);
    expect(await deadLetterCount(stage.nats.url, stage.prefix)).toBe(0);
    // The client saw the outage only as retryable answers (anything else would have failed the burst).
    const retryable = client.stats.retryable;
    expect(Object.keys(retryable).every((code) => ['SERVICE_UNAVAILABLE', 'HTTP_503'].includes(code))).toBe(true);
    report('Postgres outage 15 s during a burst of 60 posts', {
      outageMs: startedAt - stoppedAt,
      followers: followers.length,
      retryableAnswers: retryable,
      feedsConvergedMs: ms,
      deadLetters: 0,
      lost: 0,
      duplicated: 0,
    });
  });
});
