import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostsSystem, type PostsSystem, type TestUser } from './harness.ts';

const POST_FIELDS =
  'id text hashtags mentions { id } media { id } author { id } createdAt editedAt likeCount commentCount viewerHasLiked';
const POST = `query($id: ID!) { post(id: $id) { ${POST_FIELDS} } }`;
const USER_POSTS = `query($r: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $r) { ... on User { posts(first: $first, after: $after) { edges { cursor node { id text } } pageInfo { hasNextPage endCursor } } } } }`;
const BY_TAG = `query($tag: String!, $first: Int, $after: String) {
  postsByHashtag(tag: $tag, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`;
const CREATE = `mutation($i: CreatePostInput!) { createPost(input: $i) { ${POST_FIELDS} } }`;
const EDIT = `mutation($id: ID!, $i: EditPostInput!) { editPost(id: $id, input: $i) { ${POST_FIELDS} } }`;
const DELETE = 'mutation($id: ID!) { deletePost(id: $id) }';

let s: PostsSystem;
let ana: TestUser;
let bob: TestUser;
beforeAll(async () => {
  s = await startPostsSystem();
  [ana, bob] = await Promise.all([s.signUp(), s.signUp()]);
});
afterAll(async () => {
  await s?.stop();
});

const userPosts = async (user: TestUser, viewer: TestUser | null, first?: number, after?: string) =>
  (await s.request(USER_POSTS, { r: [{ __typename: 'User', id: user.id }], first, after }, viewer?.identity ?? null))
    .body;
const tagged = async (tag: string, viewer: TestUser | null = null) =>
  (await s.request(BY_TAG, { tag }, viewer?.identity ?? null)).body.data!.postsByHashtag.edges.map(
    (e: { node: { id: string } }) => e.node.id,
  );
const postCount = (author: TestUser) => s.db.post.count({ where: { authorId: author.id } });

describe('createPost', () => {
  it('should store normalized hashtags and the mentions of existing users only', async () => {
    const text = `Sunset with @${bob.username.toUpperCase()} and @no_such_user_here, mail me at x@${bob.username}.com #Sunset #SUNSET #Été issue #12`;
    const res = await s.request(CREATE, { i: { text } }, ana.identity);
    expect(res.body.errors).toBeUndefined();
    const post = res.body.data!.createPost;
    expect(post).toMatchObject({
      text,
      hashtags: ['sunset', 'été'],
      mentions: [{ id: bob.id }],
      media: [],
      author: { id: ana.id },
      editedAt: null,
      likeCount: 0,
      commentCount: 0,
      viewerHasLiked: false,
    });
    const read = await s.request(POST, { id: post.id }, bob.identity);
    expect(read.body.data!.post).toEqual(post);
    expect(await tagged('#SUNSET')).toContain(post.id);
  });

  it('should return the same post for a repeated idempotency key', async () => {
    const author = await s.signUp();
    const input = { text: 'only once', idempotencyKey: randomUUID() };
    const results = await Promise.all([1, 2, 3].map(() => s.request(CREATE, { i: input }, author.identity)));
    const ids = new Set(results.map((r) => r.body.data!.createPost.id));
    expect(ids.size).toBe(1);
    expect(await postCount(author)).toBe(1);
    const other = await s.request(CREATE, { i: { ...input, idempotencyKey: randomUUID() } }, author.identity);
    expect(ids.has(other.body.data!.createPost.id)).toBe(false);
  });

  it('should reject empty, too long, over-tagged and over-full posts with BAD_USER_INPUT and write nothing', async () => {
    const author = await s.signUp();
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'input.text'],
      [{ text: '   ', mediaIds: [] }, 'input.text'],
      [{ text: 'x'.repeat(2201) }, 'input.text'],
      [{ text: Array.from({ length: 31 }, (_, i) => `#tag${i}`).join(' ') }, 'input.text'],
      [{ text: 'many', mediaIds: Array.from({ length: 11 }, () => randomUUID()) }, 'input.mediaIds'],
      [{ text: 'twice', mediaIds: [ana.id, ana.id] }, 'input.mediaIds'],
      [{ text: 'key', idempotencyKey: '' }, 'input.idempotencyKey'],
    ];
    for (const [input, field] of cases) {
      const res = await s.request(CREATE, { i: input }, author.identity);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(await postCount(author)).toBe(0);
    expect(await s.db.postsOutbox.count({ where: { payload: { path: ['authorId'], equals: author.id } } })).toBe(0);
  });

  it('should accept exactly 2,200 characters, counted as characters not UTF-16 units', async () => {
    const res = await s.request(CREATE, { i: { text: '😀'.repeat(2200) } }, ana.identity);
    expect(res.body.errors).toBeUndefined();
  });

  it('should require a signed-in user for every mutation', async () => {
    const id = randomUUID();
    const mutations = [
      [CREATE, { i: { text: 'x' } }],
      [EDIT, { id, i: { text: 'x' } }],
      [DELETE, { id }],
      ['mutation($id: ID!) { likePost(postId: $id) { id } }', { id }],
      ['mutation($id: ID!) { unlikePost(postId: $id) { id } }', { id }],
      ['mutation($id: ID!) { addComment(input: { postId: $id, text: "x" }) { id } }', { id }],
      ['mutation($id: ID!) { deleteComment(id: $id) }', { id }],
    ] as const;
    for (const [query, variables] of mutations) {
      const res = await s.request(query, variables);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('editPost and deletePost', () => {
  it('should replace the text, hashtags and mentions and keep the previous text in the history', async () => {
    const post = await s.createPost(ana, { text: `first #before with @${bob.username}` });
    const res = await s.request(EDIT, { id: post.id, i: { text: 'second #after' } }, ana.identity);
    expect(res.body.data!.editPost).toMatchObject({ text: 'second #after', hashtags: ['after'], mentions: [] });
    expect(Date.parse(res.body.data!.editPost.editedAt)).toBeGreaterThan(0);
    expect(await tagged('before')).not.toContain(post.id);
    expect(await tagged('after')).toContain(post.id);
    const history = await s.db.postEdit.findMany({ where: { postId: post.id } });
    expect(history.map((e) => e.text)).toEqual([`first #before with @${bob.username}`]);
  });

  it("should refuse to edit or delete another user's post, and answer NOT_FOUND for unknown ids", async () => {
    const post = await s.createPost(ana, { text: 'mine' });
    for (const [query, variables] of [
      [EDIT, { id: post.id, i: { text: 'hacked' } }],
      [DELETE, { id: post.id }],
    ] as const) {
      expect((await s.request(query, variables, bob.identity)).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    for (const id of [randomUUID(), 'not-an-id']) {
      expect((await s.request(EDIT, { id, i: { text: 'x' } }, ana.identity)).body.errors?.[0]?.extensions?.code).toBe(
        'NOT_FOUND',
      );
      expect((await s.request(DELETE, { id }, ana.identity)).body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const unchanged = await s.db.post.findUniqueOrThrow({ where: { id: post.id } });
    expect(unchanged).toMatchObject({ text: 'mine', editedAt: null, deletedAt: null });
  });

  it('should refuse to empty a post that has no media', async () => {
    const post = await s.createPost(ana, { text: 'keep me' });
    const res = await s.request(EDIT, { id: post.id, i: { text: '  ' } }, ana.identity);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.text' });
    expect(await s.db.postEdit.count({ where: { postId: post.id } })).toBe(0);
  });

  it('should soft-delete so the post leaves post, User.posts and the hashtag lists', async () => {
    const author = await s.signUp();
    const tag = `gone${randomUUID().slice(0, 8)}`;
    const post = await s.createPost(author, { text: `bye #${tag}` });
    expect(await tagged(tag)).toEqual([post.id]);
    expect((await s.request(DELETE, { id: post.id }, author.identity)).body.data).toEqual({ deletePost: true });
    expect((await s.request(POST, { id: post.id }, author.identity)).body.data).toEqual({ post: null });
    expect((await userPosts(author, author)).data!._entities[0].posts.edges).toEqual([]);
    expect(await tagged(tag)).toEqual([]);
    expect((await s.db.post.findUniqueOrThrow({ where: { id: post.id } })).deletedAt).toBeInstanceOf(Date);
    expect((await s.request(DELETE, { id: post.id }, author.identity)).body.errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
  });
});

describe('lists', () => {
  it('should page User.posts newest first with keyset cursors', async () => {
    const author = await s.signUp();
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three']) ids.push((await s.createPost(author, { text })).id);
    const first = (await userPosts(author, bob, 2)).data!._entities[0].posts;
    expect(first.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[2], ids[1]]);
    expect(first.pageInfo).toEqual({ hasNextPage: true, endCursor: first.edges[1].cursor });
    const second = (await userPosts(author, bob, 2, first.pageInfo.endCursor)).data!._entities[0].posts;
    expect(second.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[0]]);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('should reject a cursor of another list, a forged cursor and first over 100', async () => {
    const author = await s.signUp();
    await s.createPost(author, { text: 'a #cursors' });
    await s.createPost(author, { text: 'b #cursors' });
    const tagPage = (await s.request(BY_TAG, { tag: 'cursors', first: 1 })).body.data!.postsByHashtag;
    const otherUserPage = (await userPosts(author, author, 1)).data!._entities[0].posts;
    for (const after of [tagPage.pageInfo.endCursor, 'forged', Buffer.from('{"l":"x","k":{}}').toString('base64url')]) {
      const res = await userPosts(bob, bob, 1, after);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
    const foreign = await s.request(BY_TAG, { tag: 'cursors', after: otherUserPage.pageInfo.endCursor });
    expect(foreign.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await userPosts(author, author, 101)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('should list hashtag posts newest first across authors, following the cursor to the end', async () => {
    const tag = `walk${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (const author of [ana, bob, ana]) ids.push((await s.createPost(author, { text: `#${tag}` })).id);
    const page1 = (await s.request(BY_TAG, { tag: tag.toUpperCase(), first: 2 })).body.data!.postsByHashtag;
    const page2 = (await s.request(BY_TAG, { tag, first: 2, after: page1.pageInfo.endCursor })).body.data!
      .postsByHashtag;
    expect([...page1.edges, ...page2.edges].map((e: { node: { id: string } }) => e.node.id)).toEqual(ids.reverse());
    expect([page1.pageInfo.hasNextPage, page2.pageInfo.hasNextPage]).toEqual([true, false]);
    expect((await s.request(BY_TAG, { tag: '#' })).body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'tag',
    });
  });
});
