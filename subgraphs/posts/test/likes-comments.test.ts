import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostsSubjects } from '@insta/events';
import { startPostsSystem, type PostsSystem, type TestUser } from './harness.ts';

const LIKE = 'mutation($id: ID!) { likePost(postId: $id) { id likeCount viewerHasLiked } }';
const UNLIKE = 'mutation($id: ID!) { unlikePost(postId: $id) { id likeCount viewerHasLiked } }';
const COMMENT = `mutation($i: AddCommentInput!) {
  addComment(input: $i) { id text author { id } parent { id } post { id commentCount } createdAt } }`;
const DELETE_COMMENT = 'mutation($id: ID!) { deleteComment(id: $id) }';
const THREAD = `query($id: ID!) { post(id: $id) { commentCount comments { edges { node {
  id text author { id } parent { id } replies { edges { node { id text parent { id } replies { edges { node { id } } } } } } } } } } }`;

let s: PostsSystem;
let ana: TestUser;
let bob: TestUser;
let cyd: TestUser;
beforeAll(async () => {
  s = await startPostsSystem();
  [ana, bob, cyd] = await Promise.all([s.signUp(), s.signUp(), s.signUp()]);
});
afterAll(async () => {
  await s?.stop();
});

const code = (res: { body: { errors?: { extensions?: { code?: string } }[] } }) =>
  res.body.errors?.[0]?.extensions?.code;
const comment = async (user: TestUser, input: Record<string, unknown>) => {
  const res = await s.request(COMMENT, { i: input }, user.identity);
  if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data.addComment as { id: string; post: { commentCount: number } };
};

describe('likes', () => {
  it('should count a like once however often it is sent, and uncount it once', async () => {
    const post = await s.createPost(ana, { text: 'like me' });
    const likes = await Promise.all([1, 2, 3].map(() => s.request(LIKE, { id: post.id }, bob.identity)));
    expect(likes.map((r) => r.body.data!.likePost.viewerHasLiked)).toEqual([true, true, true]);
    expect((await s.request(LIKE, { id: post.id }, cyd.identity)).body.data!.likePost).toEqual({
      id: post.id,
      likeCount: 2,
      viewerHasLiked: true,
    });
    const read = await s.request(
      'query($id: ID!) { post(id: $id) { likeCount viewerHasLiked } }',
      { id: post.id },
      ana.identity,
    );
    expect(read.body.data!.post).toEqual({ likeCount: 2, viewerHasLiked: false });
    await s.request(UNLIKE, { id: post.id }, bob.identity);
    const again = await s.request(UNLIKE, { id: post.id }, bob.identity);
    expect(again.body.data!.unlikePost).toEqual({ id: post.id, likeCount: 1, viewerHasLiked: false });
    expect(await s.db.like.count({ where: { postId: post.id } })).toBe(1);
  });

  it('should publish liked and unliked only when a row changed, with the count after the change', async () => {
    const post = await s.createPost(ana, { text: 'events' });
    for (const query of [LIKE, LIKE, UNLIKE, UNLIKE]) await s.request(query, { id: post.id }, bob.identity);
    await vi.waitFor(() => expect(s.eventsOf(PostsSubjects.postUnliked, { postId: post.id })).toHaveLength(1));
    expect(s.eventsOf(PostsSubjects.postLiked, { postId: post.id })).toEqual([
      expect.objectContaining({ postId: post.id, postAuthorId: ana.id, userId: bob.id, likeCount: 1 }),
    ]);
    expect(s.eventsOf(PostsSubjects.postUnliked, { postId: post.id })).toEqual([
      expect.objectContaining({ postId: post.id, postAuthorId: ana.id, userId: bob.id, likeCount: 0 }),
    ]);
  });

  it('should answer NOT_FOUND for liking or commenting on an unknown or deleted post', async () => {
    const post = await s.createPost(ana, { text: 'soon gone' });
    await s.request('mutation($id: ID!) { deletePost(id: $id) }', { id: post.id }, ana.identity);
    for (const id of [post.id, randomUUID(), 'nope']) {
      expect(code(await s.request(LIKE, { id }, bob.identity))).toBe('NOT_FOUND');
      expect(code(await s.request(UNLIKE, { id }, bob.identity))).toBe('NOT_FOUND');
      expect(code(await s.request(COMMENT, { i: { postId: id, text: 'hi' } }, bob.identity))).toBe('NOT_FOUND');
    }
    expect(await s.db.like.count({ where: { postId: post.id } })).toBe(0);
  });
});

describe('comments', () => {
  it('should nest replies under comments, oldest first, and count all of them on the post', async () => {
    const post = await s.createPost(ana, { text: 'thread' });
    const top = await comment(bob, { postId: post.id, text: 'first!' });
    const second = await comment(cyd, { postId: post.id, text: 'second' });
    const reply = await comment(ana, { postId: post.id, text: 'thanks', parentId: top.id });
    const deep = await comment(bob, { postId: post.id, text: 'welcome', parentId: reply.id });
    expect(deep.post.commentCount).toBe(4);
    const thread = (await s.request(THREAD, { id: post.id }, cyd.identity)).body.data!.post;
    expect(thread).toEqual({
      commentCount: 4,
      comments: {
        edges: [
          {
            node: {
              id: top.id,
              text: 'first!',
              author: { id: bob.id },
              parent: null,
              replies: {
                edges: [
                  {
                    node: {
                      id: reply.id,
                      text: 'thanks',
                      parent: { id: top.id },
                      replies: { edges: [{ node: { id: deep.id } }] },
                    },
                  },
                ],
              },
            },
          },
          { node: { id: second.id, text: 'second', author: { id: cyd.id }, parent: null, replies: { edges: [] } } },
        ],
      },
    });
  });

  it('should page comments with keyset cursors of their own list', async () => {
    const post = await s.createPost(ana, { text: 'many comments' });
    const ids: string[] = [];
    for (const text of ['a', 'b', 'c']) ids.push((await comment(bob, { postId: post.id, text })).id);
    const page = async (after?: string) =>
      (
        await s.request(
          'query($id: ID!, $after: String) { post(id: $id) { comments(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }',
          { id: post.id, after },
        )
      ).body;
    const first = (await page()).data!.post.comments;
    const second = (await page(first.pageInfo.endCursor)).data!.post.comments;
    expect([...first.edges, ...second.edges].map((e: { node: { id: string } }) => e.node.id)).toEqual(ids);
    expect([first.pageInfo.hasNextPage, second.pageInfo.hasNextPage]).toEqual([true, false]);
    const other = await s.createPost(ana, { text: 'other' });
    const foreign = await s.request(
      'query($id: ID!, $after: String) { post(id: $id) { comments(after: $after) { edges { node { id } } } } }',
      { id: other.id, after: first.pageInfo.endCursor },
    );
    expect(foreign.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('should reject empty comments and replies to a comment of another post, writing nothing', async () => {
    const post = await s.createPost(ana, { text: 'one' });
    const other = await s.createPost(ana, { text: 'two' });
    const elsewhere = await comment(bob, { postId: other.id, text: 'elsewhere' });
    const cases: [Record<string, unknown>, string][] = [
      [{ postId: post.id, text: '  ' }, 'input.text'],
      [{ postId: post.id, text: 'x'.repeat(2201) }, 'input.text'],
      [{ postId: post.id, text: 'reply', parentId: elsewhere.id }, 'input.parentId'],
      [{ postId: post.id, text: 'reply', parentId: randomUUID() }, 'input.parentId'],
    ];
    for (const [input, field] of cases) {
      const res = await s.request(COMMENT, { i: input }, bob.identity);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(await s.db.comment.count({ where: { postId: post.id } })).toBe(0);
    expect((await s.db.post.findUniqueOrThrow({ where: { id: post.id } })).commentCount).toBe(0);
  });

  it('should let the comment author or the post author delete a comment with its replies, and nobody else', async () => {
    const post = await s.createPost(ana, { text: 'moderated' });
    const top = await comment(bob, { postId: post.id, text: 'top' });
    await comment(cyd, { postId: post.id, text: 'reply', parentId: top.id });
    const cyds = await comment(cyd, { postId: post.id, text: 'mine' });
    expect(code(await s.request(DELETE_COMMENT, { id: top.id }, cyd.identity))).toBe('FORBIDDEN');
    expect(code(await s.request(DELETE_COMMENT, { id: randomUUID() }, cyd.identity))).toBe('NOT_FOUND');
    expect((await s.request(DELETE_COMMENT, { id: top.id }, ana.identity)).body.data).toEqual({ deleteComment: true });
    const after = (await s.request(THREAD, { id: post.id })).body.data!.post;
    expect(after.commentCount).toBe(1);
    expect(after.comments.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([cyds.id]);
    expect((await s.request(DELETE_COMMENT, { id: cyds.id }, cyd.identity)).body.data).toEqual({ deleteComment: true });
    expect(code(await s.request(DELETE_COMMENT, { id: cyds.id }, cyd.identity))).toBe('NOT_FOUND');
    expect((await s.db.post.findUniqueOrThrow({ where: { id: post.id } })).commentCount).toBe(0);
    await vi.waitFor(() => expect(s.eventsOf(PostsSubjects.commentDeleted, { postId: post.id })).toHaveLength(2));
    expect(s.eventsOf(PostsSubjects.commentDeleted, { commentId: top.id })[0]).toMatchObject({
      postAuthorId: ana.id,
      authorId: bob.id,
      deletedBy: ana.id,
      commentCount: 1,
    });
    expect(s.eventsOf(PostsSubjects.commentDeleted, { commentId: top.id })[0]!.deletedCommentIds).toHaveLength(2);
  });
});

describe('events', () => {
  it('should publish post, comment and mention events after commit with the ids consumers need', async () => {
    const post = await s.createPost(ana, { text: `hi @${bob.username} #news` });
    await s.request(
      'mutation($id: ID!) { editPost(id: $id, input: { text: "hi again @' +
        bob.username +
        ' and @' +
        cyd.username +
        '" }) { id } }',
      { id: post.id },
      ana.identity,
    );
    const top = await comment(bob, { postId: post.id, text: `@${cyd.username} look` });
    const reply = await comment(cyd, { postId: post.id, text: 'seen', parentId: top.id });
    await s.request('mutation($id: ID!) { deletePost(id: $id) }', { id: post.id }, ana.identity);
    await vi.waitFor(() => expect(s.eventsOf(PostsSubjects.postDeleted, { postId: post.id })).toHaveLength(1));

    expect(s.eventsOf(PostsSubjects.postCreated, { postId: post.id })).toEqual([
      expect.objectContaining({
        authorId: ana.id,
        hashtags: ['news'],
        mentionedUserIds: [bob.id],
        mediaIds: [],
        eventId: expect.any(String),
      }),
    ]);
    expect(s.eventsOf(PostsSubjects.postEdited, { postId: post.id })).toEqual([
      expect.objectContaining({ authorId: ana.id, hashtags: [], mentionedUserIds: [bob.id, cyd.id] }),
    ]);
    expect(s.eventsOf(PostsSubjects.commentAdded, { postId: post.id })).toEqual([
      expect.objectContaining({
        commentId: top.id,
        postAuthorId: ana.id,
        authorId: bob.id,
        parentId: null,
        parentAuthorId: null,
        commentCount: 1,
      }),
      expect.objectContaining({
        commentId: reply.id,
        postAuthorId: ana.id,
        authorId: cyd.id,
        parentId: top.id,
        parentAuthorId: bob.id,
        commentCount: 2,
      }),
    ]);
    // Bob once for the post (not again on the edit), Cyd once for the edit and once for Bob's comment.
    expect(
      s
        .eventsOf(PostsSubjects.mentionCreated, { postId: post.id })
        .map((e) => [e.mentionedUserId, e.commentId, e.authorId]),
    ).toEqual([
      [bob.id, null, ana.id],
      [cyd.id, null, ana.id],
      [cyd.id, top.id, bob.id],
    ]);
    expect(s.eventsOf(PostsSubjects.postDeleted, { postId: post.id })[0]).toMatchObject({ authorId: ana.id });
    await vi.waitFor(async () => expect(await s.db.postsOutbox.count()).toBe(0));
  });
});
