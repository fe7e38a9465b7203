import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSubgraphHarness } from '@insta/test-support';
import { loadSocialGraphConfig, startSocialGraphSubgraph } from '../src/server.ts';

let h: Awaited<ReturnType<typeof startHarness>>;
const startHarness = () =>
  startSubgraphHarness({ name: 'social-graph', loadConfig: loadSocialGraphConfig, start: startSocialGraphSubgraph });
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('User counts', () => {
  it('should resolve follower and following counts for a batch of user references, zero for users without edges', async () => {
    const counted = randomUUID();
    const fresh = randomUUID();
    await h.db.userStats.create({ data: { userId: counted, followerCount: 12, followingCount: 3 } });
    const res = await h.request(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id followerCount followingCount } } }',
      {
        r: [
          { __typename: 'User', id: counted },
          { __typename: 'User', id: fresh },
        ],
      },
    );
    expect(res.body.data!._entities).toEqual([
      { id: counted, followerCount: 12, followingCount: 3 },
      { id: fresh, followerCount: 0, followingCount: 0 },
    ]);
  });
});
