import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPostsSystem, type PostsSystem, type TestUser } from './harness.ts';

let s: PostsSystem;
let owner: TestUser;
let other: TestUser;
let jpeg: Buffer;
beforeAll(async () => {
  s = await startPostsSystem();
  [owner, other] = await Promise.all([s.signUp(), s.signUp()]);
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 30, g: 120, b: 200 } } })
    .jpeg()
    .toBuffer();
});
afterAll(async () => {
  await s?.stop();
});

async function readyImage(user: TestUser): Promise<string> {
  const id = await s.upload(user, jpeg, 'image/jpeg');
  await vi.waitFor(
    async () => {
      const res = await s.media('query($id: ID!) { media(id: $id) { status } }', { id }, user.identity);
      expect(res.body.data!.media.status).toBe('READY');
    },
    { timeout: 30_000, interval: 100 },
  );
  return id;
}

const CREATE = 'mutation($i: CreatePostInput!) { createPost(input: $i) { id text media { id } } }';

describe('createPost with media', () => {
  it("should attach the author's READY media in the order given, with or without text", async () => {
    const [first, second] = await Promise.all([readyImage(owner), readyImage(owner)]);
    const res = await s.request(CREATE, { i: { mediaIds: [second, first] } }, owner.identity);
    expect(res.body.data!.createPost).toMatchObject({ text: null, media: [{ id: second }, { id: first }] });
    const read = await s.request(
      'query($id: ID!) { post(id: $id) { media { id } } }',
      { id: res.body.data!.createPost.id },
      other.identity,
    );
    expect(read.body.data!.post.media).toEqual([{ id: second }, { id: first }]);
  });

  it("should reject another user's media, media that is not READY and unknown media, writing nothing", async () => {
    const [mine, theirs] = await Promise.all([readyImage(owner), readyImage(other)]);
    const pending = await s.media(
      'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } } }',
      { i: { contentType: 'image/jpeg', size: jpeg.length } },
      owner.identity,
    );
    const pendingId = pending.body.data!.requestUpload.media.id as string;
    const before = await s.db.post.count({ where: { authorId: owner.id } });
    const cases: [string[], string, RegExp][] = [
      [[mine, theirs], 'input.mediaIds.1', /not one of your media/i],
      [[pendingId], 'input.mediaIds.0', /AWAITING_UPLOAD/],
      [[mine, '0190a7a0-0000-7000-8000-000000000000'], 'input.mediaIds.1', /not one of your media/i],
      [['not-an-id'], 'input.mediaIds.0', /not one of your media/i],
    ];
    for (const [mediaIds, field, message] of cases) {
      const res = await s.request(CREATE, { i: { text: 'with media', mediaIds } }, owner.identity);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(res.body.errors?.[0]?.message).toMatch(message);
    }
    expect(await s.db.post.count({ where: { authorId: owner.id } })).toBe(before);
  });

  it('should let the author remove the text of a post that has media', async () => {
    const image = await readyImage(owner);
    const created = await s.request(CREATE, { i: { text: 'caption', mediaIds: [image] } }, owner.identity);
    const res = await s.request(
      'mutation($id: ID!) { editPost(id: $id, input: { text: null }) { text media { id } } }',
      { id: created.body.data!.createPost.id },
      owner.identity,
    );
    expect(res.body.data!.editPost).toEqual({ text: null, media: [{ id: image }] });
  });
});

describe('updateProfile(avatarMediaId)', () => {
  const SET_AVATAR = 'mutation($id: ID) { updateProfile(input: { avatarMediaId: $id }) { avatar { id } } }';
  const avatarOf = async (user: TestUser) =>
    (await s.users('{ me { avatar { id } } }', {}, user.identity)).body.data!.me.avatar as { id: string } | null;

  it("should refuse someone else's image (a private post's included), keeping the avatar", async () => {
    const theirs = await readyImage(other);
    const res = await s.users(SET_AVATAR, { id: theirs }, owner.identity);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'avatarMediaId' });
    expect(await avatarOf(owner)).toBeNull();
  });

  it('should refuse unknown media and own media that is not READY, keeping the avatar', async () => {
    const pending = await s.media(
      'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } } }',
      { i: { contentType: 'image/jpeg', size: 100 } },
      owner.identity,
    );
    for (const id of [pending.body.data!.requestUpload.media.id as string, crypto.randomUUID()]) {
      const res = await s.users(SET_AVATAR, { id }, owner.identity);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'avatarMediaId' });
    }
    expect(await avatarOf(owner)).toBeNull();
  });

  it('should take your own READY image, and null to remove it', async () => {
    const mine = await readyImage(owner);
    expect((await s.users(SET_AVATAR, { id: mine }, owner.identity)).body.data!.updateProfile.avatar).toEqual({
      id: mine,
    });
    expect((await s.users(SET_AVATAR, { id: null }, owner.identity)).body.data!.updateProfile.avatar).toBeNull();
  });
});
