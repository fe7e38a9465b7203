import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersSubjects } from '@insta/events';
import { TEST_SERVICE } from '@insta/infra/testing';
import {
  codeOf,
  createUser,
  eventually,
  fakeAccountSource,
  FOLLOW,
  MUTE,
  publishUsersEvent,
  RELATIONS,
  startSocialHarness,
  type SocialHarness,
  type TestUser,
} from './harness.ts';

/** A user the owner (users) knows but whose users event social-graph has not received. */
function signedUpElsewhere(owner: ReturnType<typeof fakeAccountSource>, isPrivate = false): TestUser {
  const id = randomUUID();
  owner.known.set(id, { isPrivate, updatedAt: new Date() });
  return { id, identity: { userId: id, sessionId: randomUUID() } };
}

describe('accounts the replica has not received yet', () => {
  const owner = fakeAccountSource();
  let h: SocialHarness;
  beforeAll(async () => {
    h = await startSocialHarness(undefined, owner);
  });
  afterAll(() => h.stop());

  it('should follow users who signed up a moment ago, asking their owner and filling the replica', async () => {
    const viewer = await createUser(h);
    const newcomers = Array.from({ length: 20 }, () => signedUpElsewhere(owner));
    const answers = await Promise.all(newcomers.map((u) => h.request(FOLLOW, { id: u.id }, viewer.identity)));
    expect(answers.map((a) => a.body)).toEqual(newcomers.map(() => ({ data: { follow: 'FOLLOWING' } })));
    const replicated = await h.db.socialAccount.findMany({ where: { userId: { in: newcomers.map((u) => u.id) } } });
    expect(replicated).toHaveLength(20);
    // Each newcomer is asked about once: the rerun of the follow finds it in the replica.
    expect(owner.calls.flat().filter((id) => newcomers.some((u) => u.id === id))).toHaveLength(20);
  });

  it('should request to follow a private newcomer, and mute one', async () => {
    const viewer = await createUser(h);
    const [secret, loud] = [signedUpElsewhere(owner, true), signedUpElsewhere(owner)];
    expect((await h.request(FOLLOW, { id: secret.id }, viewer.identity)).body.data).toEqual({ follow: 'REQUESTED' });
    expect((await h.request(MUTE, { id: loud.id }, viewer.identity)).body.data).toEqual({ mute: true });
  });

  it('should show a newcomer private or public as the owner says', async () => {
    const viewer = await createUser(h);
    const [secret, open] = [signedUpElsewhere(owner, true), signedUpElsewhere(owner, false)];
    const res = await h.request(RELATIONS, { v: viewer.id, t: [secret.id, open.id] }, TEST_SERVICE);
    expect(res.body.data!.relations.map((r: { targetIsPrivate: boolean }) => r.targetIsPrivate)).toEqual([true, false]);
  });

  it('should keep the owner state against an older users event delivered later', async () => {
    const viewer = await createUser(h);
    const newcomer = signedUpElsewhere(owner, true);
    await h.request(FOLLOW, { id: newcomer.id }, viewer.identity);
    // The sign-up event (public at the time) arrives after the fill, which saw the account already private.
    const createdAt = new Date(owner.known.get(newcomer.id)!.updatedAt.getTime() - 1_000);
    await publishUsersEvent(
      h.bus,
      UsersSubjects.userCreated,
      {
        userId: newcomer.id,
        username: `u_${newcomer.id.slice(0, 8)}`,
        isPrivate: false,
        createdAt: createdAt.toISOString(),
      },
      createdAt,
    );
    const later = signedUpElsewhere(owner);
    await publishUsersEvent(h.bus, UsersSubjects.userCreated, {
      userId: later.id,
      username: `u_${later.id.slice(0, 8)}`,
      isPrivate: false,
      createdAt: new Date().toISOString(),
    });
    // Events are applied in order: once the later one is in, the older one has been handled (and ignored).
    await eventually(async () =>
      expect(await h.db.socialAccount.findUnique({ where: { userId: later.id } })).not.toBeNull(),
    );
    expect(await h.db.socialAccount.findUniqueOrThrow({ where: { userId: newcomer.id } })).toMatchObject({
      isPrivate: true,
    });
  });

  it('should answer NOT_FOUND for a user the owner does not know either', async () => {
    const viewer = await createUser(h);
    expect(codeOf(await h.request(FOLLOW, { id: randomUUID() }, viewer.identity))).toBe('NOT_FOUND');
  });

  it('should treat a newcomer as private, and fail follows as retryable, while the owner cannot be asked', async () => {
    const viewer = await createUser(h);
    const newcomer = signedUpElsewhere(owner, false);
    owner.down = true;
    try {
      const relations = await h.request(RELATIONS, { v: viewer.id, t: [newcomer.id] }, TEST_SERVICE);
      expect(relations.body.data!.relations[0]).toMatchObject({ targetId: newcomer.id, targetIsPrivate: true });
      const followed = await h.request(FOLLOW, { id: newcomer.id }, viewer.identity);
      expect(followed.body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(followed.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    } finally {
      owner.down = false;
    }
    expect((await h.request(FOLLOW, { id: newcomer.id }, viewer.identity)).body.data).toEqual({ follow: 'FOLLOWING' });
  });
});
