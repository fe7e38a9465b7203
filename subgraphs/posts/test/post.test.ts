import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSubgraphHarness } from '@insta/test-support';
import { loadPostsConfig, startPostsSubgraph } from '../src/server.ts';

let h: Awaited<ReturnType<typeof startHarness>>;
const startHarness = () => startSubgraphHarness({ name: 'posts', loadConfig: loadPostsConfig, start: startPostsSubgraph });
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('post', () => {
  it('should return a post with a reference to its author', async () => {
    const authorId = randomUUID();
    const post = await h.db.post.create({ data: { authorId, text: 'hello' } });
    const res = await h.request('query($id: ID!) { post(id: $id) { id text createdAt editedAt author { id } } }', { id: post.id });
    expect(res.body.data!.post).toEqual({
      id: post.id,
      text: 'hello',
      createdAt: post.createdAt.toISOString(),
      editedAt: null,
      author: { id: authorId },
    });
  });

  it('should answer null for unknown, malformed and deleted post ids', async () => {
    const deleted = await h.db.post.create({ data: { authorId: randomUUID(), text: 'gone', deletedAt: new Date() } });
    for (const id of [randomUUID(), 'not-an-id', deleted.id]) {
      const res = await h.request('query($id: ID!) { post(id: $id) { id } }', { id });
      expect(res.body).toEqual({ data: { post: null } });
    }
  });
});
