import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostsSystem, type PostsSystem, type TestUser } from './harness.ts';

const NODE = `id author { id } text hashtags mentions { id } media { id } likeCount commentCount viewerHasLiked createdAt
  comments(first: 2) { edges { node { id author { id } parent { id } } } }`;
const USER_POSTS = `query($r: [_Any!]!, $first: Int) {
  _entities(representations: $r) { ... on User { posts(first: $first) { edges { node { ${NODE} } } } } } }`;
const BY_TAG = `query($tag: String!, $first: Int) { postsByHashtag(tag: $tag, first: $first) { edges { node { ${NODE} } } } }`;

let s: PostsSystem;
let author: TestUser;
let viewer: TestUser;
beforeAll(async () => {
  s = await startPostsSystem();
  [author, viewer] = await Promise.all([s.signUp(), s.signUp()]);
  // Seeded in bulk: what is measured is reading, and 100 createPost round trips would only slow the suite.
  const base = Date.now() - 100_000;
  const posts = Array.from({ length: 100 }, (_, i) => ({
    id: randomUUID(),
    authorId: author.id,
    text: `post ${i} #counted with @${viewer.username}`,
    createdAt: new Date(base + i * 1000),
    likeCount: i % 3 === 0 ? 1 : 0,
    commentCount: i % 4 === 0 ? 1 : 0,
  }));
  await s.db.post.createMany({ data: posts });
  await s.db.postHashtag.createMany({
    data: posts.map((p) => ({ tag: 'counted', postId: p.id, createdAt: p.createdAt })),
  });
  await s.db.postMention.createMany({ data: posts.map((p) => ({ postId: p.id, userId: viewer.id, position: 0 })) });
  await s.db.like.createMany({
    data: posts.filter((p) => p.likeCount).map((p) => ({ postId: p.id, userId: viewer.id })),
  });
  await s.db.comment.createMany({
    data: posts.filter((p) => p.commentCount).map((p) => ({ postId: p.id, authorId: viewer.id, text: 'nice' })),
  });
});
afterAll(async () => {
  await s?.stop();
});

/** SQL statements the posts subgraph sends to answer one request. */
async function sqlFor(query: string, variables: Record<string, unknown>) {
  const before = s.sql.count;
  const res = await s.request(query, variables, viewer.identity);
  expect(res.body.errors).toBeUndefined();
  return { statements: s.sql.count - before, body: res.body };
}

describe('SQL queries per page', () => {
  it('should resolve User.posts with authors, media, mentions, counts, viewerHasLiked and comments in as many queries for 100 posts as for 20', async () => {
    const r = [{ __typename: 'User', id: author.id }];
    const page20 = await sqlFor(USER_POSTS, { r, first: 20 });
    const page100 = await sqlFor(USER_POSTS, { r, first: 100 });
    const nodes = page100.body.data!._entities[0].posts.edges.map((e: { node: Record<string, unknown> }) => e.node);
    expect(nodes).toHaveLength(100);
    expect(nodes.filter((n: { viewerHasLiked: boolean }) => n.viewerHasLiked)).toHaveLength(34);
    expect(nodes.filter((n: { commentCount: number }) => n.commentCount === 1)).toHaveLength(25);
    expect(nodes.every((n: { mentions: { id: string }[] }) => n.mentions[0]?.id === viewer.id)).toBe(true);
    expect(page100.statements).toBe(page20.statements);
    // posts, media, mentions, likes of the viewer, comment pages
    expect(page20.statements).toBe(5);
  });

  it('should resolve postsByHashtag pages of 20 and 100 in the same number of queries', async () => {
    const page20 = await sqlFor(BY_TAG, { tag: 'counted', first: 20 });
    const page100 = await sqlFor(BY_TAG, { tag: 'counted', first: 100 });
    expect(page100.body.data!.postsByHashtag.edges).toHaveLength(100);
    expect(page100.statements).toBe(page20.statements);
    expect(page20.statements).toBe(5);
  });
});
