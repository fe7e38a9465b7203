import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startFeedHarness, type FeedHarness, type TestUser } from './harness.ts';

const CAP = 20;
let h: FeedHarness;
beforeAll(async () => {
  h = await startFeedHarness({ FEED_TIMELINE_CAP: String(CAP) });
});
afterAll(async () => {
  await h.stop();
});

async function readAll(reader: TestUser): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await h.feed(reader, { first: 7, ...(after ? { after } : {}) });
    ids.push(...page.ids);
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor!;
  }
}

describe('past the end of the timeline', () => {
  it('should page into posts older than a trimmed timeline after one of its entries was removed', async () => {
    const [author, reader] = [await h.createUser(), await h.createUser()];
    await h.follow(reader, author);
    const posts: string[] = [];
    for (let i = 0; i < CAP + 3; i++) posts.unshift(await h.post(author));
    await eventually(async () => expect(await h.timeline(reader)).toEqual(posts.slice(0, CAP)));

    await h.deletePost(posts[2]!);
    expect((await h.feed(reader, { first: 5 })).ids).not.toContain(posts[2]);
    expect(await h.timeline(reader)).toHaveLength(CAP - 1);

    expect(await readAll(reader)).toEqual(posts.filter((id) => id !== posts[2]));
  });
});
