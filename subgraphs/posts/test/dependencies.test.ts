import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostsSystem, type PostsSystem } from './harness.ts';

const POST = 'query($id: ID!) { post(id: $id) { id text } }';

describe('posts with social-graph down', () => {
  let h: PostsSystem;
  beforeAll(async () => {
    h = await startPostsSystem();
  });
  afterAll(() => h.stop());

  it('should answer SERVICE_UNAVAILABLE with retryAfterSeconds when visibility cannot be checked', async () => {
    const author = await h.signUp();
    const post = await h.createPost(author, { text: 'hello' });
    expect((await h.request(POST, { id: post.id })).body.data).toEqual({ post: { id: post.id, text: 'hello' } });

    await h.stopSocialGraph();
    for (let i = 0; i < 6; i++) {
      const res = await h.request(POST, { id: post.id });
      expect(res.body.data?.post ?? null).toBeNull();
      expect(res.body.errors?.[0]?.extensions).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        retryAfterSeconds: expect.any(Number),
      });
    }
  });
});
