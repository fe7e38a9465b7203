import { randomUUID } from 'node:crypto';
import { TEST_SERVICE } from '@insta/infra/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPostsSystem, type PostsSystem, type TestUser } from './harness.ts';

let s: PostsSystem;
beforeAll(async () => {
  s = await startPostsSystem();
});
afterAll(async () => {
  await s?.stop();
});

const RELATION = 'query($v: ID!, $t: ID!) { relations(viewerId: $v, targetIds: [$t]) { targetIsPrivate blocked } }';

async function makePrivate(user: TestUser, observer: TestUser) {
  await s.users('mutation { updateProfile(input: { isPrivate: true }) { id } }', {}, user.identity);
  await vi.waitFor(async () => {
    const res = await s.social(RELATION, { v: observer.id, t: user.id }, TEST_SERVICE);
    expect(res.body.data!.relations[0].targetIsPrivate).toBe(true);
  });
}

/** Retried until social-graph has heard of both users (users.user.created travels over NATS). */
async function social(user: TestUser, mutation: string, target: TestUser, expected: unknown) {
  await vi.waitFor(async () => {
    const res = await s.social(
      `mutation($u: ID!) { result: ${mutation}(userId: $u) }`,
      { u: target.id },
      user.identity,
    );
    expect(res.body.data?.result).toEqual(expected);
  });
}

/** What one viewer gets of a post through every way posts are read. */
async function sightings(
  post: { id: string },
  author: TestUser,
  tag: string,
  commentId: string,
  viewer: TestUser | null,
) {
  const identity = viewer?.identity ?? null;
  const single = await s.request('query($id: ID!) { post(id: $id) { id } }', { id: post.id }, identity);
  const entities = await s.request(
    `query($r: [_Any!]!) { _entities(representations: $r) {
      ... on User { posts { edges { node { id } } } } ... on Post { id } ... on Comment { id } } }`,
    {
      r: [
        { __typename: 'User', id: author.id },
        { __typename: 'Post', id: post.id },
        { __typename: 'Comment', id: commentId },
      ],
    },
    identity,
  );
  const tagged = await s.request(
    'query($t: String!) { postsByHashtag(tag: $t) { edges { node { id } } } }',
    { t: tag },
    identity,
  );
  const [user, postEntity, commentEntity] = entities.body.data!._entities;
  return {
    post: single.body.data!.post !== null,
    userPosts: user.posts.edges.length > 0,
    postEntity: postEntity !== null,
    commentEntity: commentEntity !== null,
    hashtag: tagged.body.data!.postsByHashtag.edges.length > 0,
  };
}
const everywhere = { post: true, userPosts: true, postEntity: true, commentEntity: true, hashtag: true };
const nowhere = { post: false, userPosts: false, postEntity: false, commentEntity: false, hashtag: false };

describe('private accounts', () => {
  it("should show a private account's posts only to the author and approved followers, everywhere", async () => {
    const [author, follower, requester, stranger] = await Promise.all([s.signUp(), s.signUp(), s.signUp(), s.signUp()]);
    await makePrivate(author, stranger);
    await social(follower, 'follow', author, 'REQUESTED');
    await social(requester, 'follow', author, 'REQUESTED');
    await social(author, 'approveFollowRequest', follower, true);
    const tag = `secret${randomUUID().slice(0, 8)}`;
    const post = await s.createPost(author, { text: `for friends #${tag}` });
    const comment = await s.request(
      'mutation($i: AddCommentInput!) { addComment(input: $i) { id } }',
      { i: { postId: post.id, text: 'hi' } },
      follower.identity,
    );
    const commentId = comment.body.data!.addComment.id as string;

    expect(await sightings(post, author, tag, commentId, author)).toEqual(everywhere);
    expect(await sightings(post, author, tag, commentId, follower)).toEqual(everywhere);
    expect(await sightings(post, author, tag, commentId, requester)).toEqual(nowhere);
    expect(await sightings(post, author, tag, commentId, stranger)).toEqual(nowhere);
    expect(await sightings(post, author, tag, commentId, null)).toEqual(nowhere);

    const like = await s.request(
      'mutation($id: ID!) { likePost(postId: $id) { id } }',
      { id: post.id },
      stranger.identity,
    );
    const reply = await s.request(
      'mutation($i: AddCommentInput!) { addComment(input: $i) { id } }',
      { i: { postId: post.id, text: 'let me in' } },
      stranger.identity,
    );
    expect([like.body.errors?.[0]?.extensions?.code, reply.body.errors?.[0]?.extensions?.code]).toEqual([
      'NOT_FOUND',
      'NOT_FOUND',
    ]);
    expect(await s.db.post.findUniqueOrThrow({ where: { id: post.id } })).toMatchObject({
      likeCount: 0,
      commentCount: 1,
    });
  });

  it("should show a public account's posts to anyone signed in or not", async () => {
    const [author, stranger] = await Promise.all([s.signUp(), s.signUp()]);
    const tag = `open${randomUUID().slice(0, 8)}`;
    const post = await s.createPost(author, { text: `hello world #${tag}` });
    const comment = await s.request(
      'mutation($i: AddCommentInput!) { addComment(input: $i) { id } }',
      { i: { postId: post.id, text: 'hi' } },
      stranger.identity,
    );
    const commentId = comment.body.data!.addComment.id as string;
    expect(await sightings(post, author, tag, commentId, stranger)).toEqual(everywhere);
    expect(await sightings(post, author, tag, commentId, null)).toEqual(everywhere);
  });

  it('should hide posts across a block, whichever side blocked', async () => {
    const [blocker, blocked] = await Promise.all([s.signUp(), s.signUp()]);
    await social(blocker, 'block', blocked, true);
    const tagA = `blk${randomUUID().slice(0, 8)}`;
    const tagB = `blk${randomUUID().slice(0, 8)}`;
    const byBlocker = await s.createPost(blocker, { text: `#${tagA}` });
    const byBlocked = await s.createPost(blocked, { text: `#${tagB}` });
    const read = async (viewer: TestUser, id: string) =>
      (await s.request('query($id: ID!) { post(id: $id) { id } }', { id }, viewer.identity)).body.data!.post;
    expect(await read(blocked, byBlocker.id)).toBeNull();
    expect(await read(blocker, byBlocked.id)).toBeNull();
    expect(await read(blocker, byBlocker.id)).toEqual({ id: byBlocker.id });
  });
});

describe('postAudience (internal)', () => {
  const AUDIENCE =
    'query($p: ID!, $v: [ID!]!) { postAudience(postId: $p, viewerIds: $v) { postId public hiddenFrom likedBy } }';

  it('should answer for many viewers what post(id:) and viewerHasLiked answer each, to services only', async () => {
    const [author, follower, requester, stranger] = await Promise.all([s.signUp(), s.signUp(), s.signUp(), s.signUp()]);
    await makePrivate(author, stranger);
    await social(follower, 'follow', author, 'REQUESTED');
    await social(author, 'approveFollowRequest', follower, true);
    await social(requester, 'follow', author, 'REQUESTED');
    const post = await s.createPost(author, { text: 'audience' });
    await s.request('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: post.id }, follower.identity);
    const viewers = [stranger, follower, requester, author];
    const res = await s.request(AUDIENCE, { p: post.id, v: [...viewers.map((u) => u.id), 'not-a-uuid'] }, TEST_SERVICE);
    expect(res.body.data!.postAudience).toEqual({
      postId: post.id,
      public: false,
      hiddenFrom: [stranger.id, requester.id, 'not-a-uuid'],
      likedBy: [follower.id],
    });
    for (const viewer of viewers) {
      const one = await s.request(
        'query($id: ID!) { post(id: $id) { viewerHasLiked } }',
        { id: post.id },
        viewer.identity,
      );
      const audience = res.body.data!.postAudience as { hiddenFrom: string[]; likedBy: string[] };
      expect(one.body.data!.post !== null).toBe(!audience.hiddenFrom.includes(viewer.id));
      if (one.body.data!.post) expect(one.body.data!.post.viewerHasLiked).toBe(audience.likedBy.includes(viewer.id));
    }
    const forUser = await s.request(AUDIENCE, { p: post.id, v: [follower.id] }, follower.identity);
    expect(forUser.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await s.request('mutation($id: ID!) { deletePost(id: $id) }', { id: post.id }, author.identity);
    expect(
      (await s.request(AUDIENCE, { p: post.id, v: [author.id] }, TEST_SERVICE)).body.data!.postAudience,
    ).toBeNull();
  });

  it('should answer public for a public author, leaving out viewers on either side of a block', async () => {
    const [author, fan, blocked] = await Promise.all([s.signUp(), s.signUp(), s.signUp()]);
    const post = await s.createPost(author, { text: 'open audience' });
    await social(author, 'block', blocked, true);
    const res = await s.request(AUDIENCE, { p: post.id, v: [blocked.id, fan.id] }, TEST_SERVICE);
    expect(res.body.data!.postAudience).toEqual({
      postId: post.id,
      public: true,
      hiddenFrom: [blocked.id],
      likedBy: [],
    });
  });
});

describe('writes on posts one cannot see', () => {
  it('should answer NOT_FOUND (not FORBIDDEN) to editPost, deletePost and deleteComment on an invisible post, changing nothing', async () => {
    const [author, follower, stranger] = await Promise.all([s.signUp(), s.signUp(), s.signUp()]);
    await makePrivate(author, stranger);
    await social(follower, 'follow', author, 'REQUESTED');
    await social(author, 'approveFollowRequest', follower, true);
    const post = await s.createPost(author, { text: 'only for friends' });
    const comment = await s.request(
      'mutation($i: AddCommentInput!) { addComment(input: $i) { id } }',
      { i: { postId: post.id, text: 'hi' } },
      author.identity,
    );
    const commentId = comment.body.data!.addComment.id as string;
    const attempts = [
      ['mutation($id: ID!) { editPost(id: $id, input: { text: "hacked" }) { id } }', { id: post.id }],
      ['mutation($id: ID!) { deletePost(id: $id) }', { id: post.id }],
      ['mutation($id: ID!) { deleteComment(id: $id) }', { id: commentId }],
    ] as const;
    const code = (res: { body: { errors?: { extensions?: { code?: string } }[] } }) =>
      res.body.errors?.[0]?.extensions?.code;
    for (const [query, variables] of attempts) {
      expect(code(await s.request(query, variables, stranger.identity))).toBe('NOT_FOUND');
      // Someone who can see the post learns nothing new from FORBIDDEN.
      expect(code(await s.request(query, variables, follower.identity))).toBe('FORBIDDEN');
    }
    const seen = await s.request(
      'query($id: ID!) { post(id: $id) { text commentCount } }',
      { id: post.id },
      author.identity,
    );
    expect(seen.body.data!.post).toEqual({ text: 'only for friends', commentCount: 1 });
  });
});
