import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { UsersSubjects, type UserUpdatedEvent } from '@insta/events';
import type { Identity } from '@insta/infra';
import {
  COMPLETE_UPLOAD,
  MEDIA,
  postUpload,
  REQUEST_UPLOAD,
  sidewaysJpeg,
  startMediaHarness,
  type MediaHarness,
  type Ticket,
} from './harness.ts';

let h: MediaHarness;
let jpeg: Buffer;
beforeAll(async () => {
  h = await startMediaHarness();
  jpeg = await sidewaysJpeg();
});
afterAll(async () => {
  await h.stop();
});

interface SeenMedia {
  id: string;
  url: string | null;
  variants: { name: string; url: string }[];
}

async function readyImage(owner: Identity): Promise<string> {
  const res = await h.request<{ requestUpload: Ticket }>(
    REQUEST_UPLOAD,
    { input: { contentType: 'image/jpeg', size: jpeg.length } },
    owner,
  );
  const ticket = res.body.data!.requestUpload;
  expect(await postUpload(ticket, jpeg, 'image/jpeg')).toBe(204);
  expect((await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner)).body.errors).toBeUndefined();
  await vi.waitFor(
    async () => expect((await h.db.media.findUniqueOrThrow({ where: { id: ticket.media.id } })).status).toBe('READY'),
    {
      timeout: 30_000,
      interval: 100,
    },
  );
  return ticket.media.id;
}

const seenBy = async (id: string, viewer: Identity | null) =>
  (await h.request<{ media: SeenMedia | null }>(MEDIA, { id }, viewer)).body.data!.media;

/** The URL without its query string: what someone who kept an old link (or guessed the key) would try. */
const unsigned = (url: string) => url.split('?')[0]!;

describe('media of a private account', () => {
  let owner: Identity;
  let follower: Identity;
  let requester: Identity;
  let stranger: Identity;
  let mediaId: string;
  beforeAll(async () => {
    [owner, follower, requester, stranger] = await Promise.all([
      h.account({ isPrivate: true }),
      h.account(),
      h.account(),
      h.account(),
    ]);
    await h.social(follower, 'follow', owner);
    await h.social(owner, 'approveFollowRequest', follower);
    await h.social(requester, 'follow', owner);
    mediaId = await readyImage(owner);
  });

  it('should answer null to strangers, anonymous clients and pending requesters', async () => {
    for (const viewer of [stranger, null, requester]) expect(await seenBy(mediaId, viewer)).toBeNull();
  });

  it('should show the media to its owner and to approved followers, with short-lived signed URLs', async () => {
    for (const viewer of [owner, follower]) {
      const media = (await seenBy(mediaId, viewer))!;
      expect(media.id).toBe(mediaId);
      for (const url of [media.url!, ...media.variants.map((v) => v.url)]) {
        expect(url).toContain('X-Amz-Signature=');
        expect(new URL(url).pathname).toMatch(/\/private\//);
      }
      const res = await fetch(media.url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    }
  });

  it('should not serve the bytes without the signature', async () => {
    const media = (await seenBy(mediaId, owner))!;
    for (const url of [media.url!, ...media.variants.map((v) => v.url)])
      expect((await fetch(unsigned(url))).status).toBe(403);
  });

  it('should hide the media again from an ex-follower and from a blocked follower', async () => {
    const [exFollower, blocked] = await Promise.all([h.account(), h.account()]);
    for (const viewer of [exFollower, blocked]) {
      await h.social(viewer, 'follow', owner);
      await h.social(owner, 'approveFollowRequest', viewer);
      expect(await seenBy(mediaId, viewer)).not.toBeNull();
    }
    await h.social(exFollower, 'unfollow', owner);
    await h.social(owner, 'block', blocked);
    expect(await seenBy(mediaId, exFollower)).toBeNull();
    expect(await seenBy(mediaId, blocked)).toBeNull();
  });
});

describe('media of a public account', () => {
  it('should stay public and cacheable for anyone, but not across a block', async () => {
    const [owner, blocked] = await Promise.all([h.account(), h.account()]);
    const mediaId = await readyImage(owner);
    const media = (await seenBy(mediaId, null))!;
    expect(media.url).not.toContain('X-Amz-Signature');
    const res = await fetch(media.url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('immutable');
    await h.social(owner, 'block', blocked);
    expect(await seenBy(mediaId, blocked)).toBeNull();
    expect(await seenBy(mediaId, owner)).not.toBeNull();
  });

  it('should treat an owner social-graph does not know yet as private', async () => {
    const unknown = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID() };
    const mediaId = await readyImage(unknown);
    expect(await seenBy(mediaId, null)).toBeNull();
    expect((await seenBy(mediaId, unknown))!.url).toContain('X-Amz-Signature=');
  });
});

describe('an account that turns private', () => {
  it('should move its media to private storage: the old public URLs stop serving, signed ones work', async () => {
    const [owner, stranger] = await Promise.all([h.account(), h.account()]);
    const mediaId = await readyImage(owner);
    const before = (await seenBy(mediaId, null))!;
    const oldUrls = [before.url!, ...before.variants.map((v) => v.url)];
    expect((await fetch(oldUrls[0]!)).status).toBe(200);

    const eventId = randomUUID();
    const event: UserUpdatedEvent = { userId: owner.userId, isPrivate: true, changed: ['isPrivate'] };
    await h.bus.publish(
      UsersSubjects.userUpdated,
      { ...event, eventId, occurredAt: new Date().toISOString() },
      { msgId: eventId },
    );
    await vi.waitFor(
      async () => {
        const keys = (await h.db.mediaVariant.findMany({ where: { mediaId } })).map((v) => v.objectKey);
        expect(keys.every((k) => k.startsWith(`private/${mediaId}/`))).toBe(true);
        // The public copies are deleted last.
        expect((await fetch(oldUrls[0]!)).status).toBe(404);
      },
      { timeout: 15_000, interval: 50 },
    );
    // Gone from the public prefix (and the copies under private/ need a signature).
    for (const url of oldUrls) expect((await fetch(url)).status).toBe(404);
    for (const url of oldUrls)
      expect((await fetch(url.replace(`/media/${mediaId}/`, `/private/${mediaId}/`))).status).toBe(403);
    await vi.waitFor(async () => expect(await seenBy(mediaId, stranger)).toBeNull(), { timeout: 15_000, interval: 50 });
    const now = (await seenBy(mediaId, owner))!;
    expect(now.url).toContain('X-Amz-Signature=');
    expect((await fetch(now.url!)).status).toBe(200);
  });
});
