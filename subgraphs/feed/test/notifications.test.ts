import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSubgraphHarness } from '@insta/test-support';
import { loadFeedConfig, startFeedSubgraph } from '../src/server.ts';

let h: Awaited<ReturnType<typeof startHarness>>;
const startHarness = () => startSubgraphHarness({ name: 'feed', loadConfig: loadFeedConfig, start: startFeedSubgraph });
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('unreadNotificationCount', () => {
  it('should count only the unread notifications of the signed-in user', async () => {
    const userId = randomUUID();
    await h.db.notification.createMany({
      data: [
        { userId, type: 'LIKE', groupKey: 'a' },
        { userId, type: 'FOLLOW', groupKey: 'b' },
        { userId, type: 'COMMENT', groupKey: 'c', readAt: new Date() },
        { userId: randomUUID(), type: 'LIKE', groupKey: 'a' },
      ],
    });
    const res = await h.request('{ unreadNotificationCount }', {}, { userId, sessionId: randomUUID() });
    expect(res.body.data).toEqual({ unreadNotificationCount: 2 });
  });

  it('should require a signed-in caller', async () => {
    const res = await h.request('{ unreadNotificationCount }');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
