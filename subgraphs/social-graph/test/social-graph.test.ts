import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocialSubjects } from '@insta/events';
import { TEST_SERVICE } from '@insta/infra/testing';
import {
  APPROVE,
  BLOCK,
  codeOf,
  collectSocialEvents,
  counts,
  createUser,
  eventually,
  expectExactCounts,
  FOLLOW,
  FOLLOW_REQUESTS,
  ids,
  listPage,
  MUTE,
  publishUsersEvent,
  REJECT,
  RELATIONS,
  setPrivate,
  startSocialHarness,
  statusOf,
  UNBLOCK,
  UNFOLLOW,
  UNMUTE,
  type SocialHarness,
  type TestUser,
} from './harness.ts';

let h: SocialHarness;
let events: Awaited<ReturnType<typeof collectSocialEvents>>;
beforeAll(async () => {
  h = await startSocialHarness();
  events = await collectSocialEvents(h.bus);
});
afterAll(async () => {
  await events.stop();
  await h.stop();
});

const follow = (viewer: TestUser, target: TestUser | string) =>
  h.request(FOLLOW, { id: typeof target === 'string' ? target : target.id }, viewer.identity);
const run = (mutation: string, viewer: TestUser, target: TestUser) =>
  h.request(mutation, { id: target.id }, viewer.identity);

describe('public accounts', () => {
  it('should follow a public account at once and count the edge on both sides', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    expect((await follow(ana, bob)).body.data).toEqual({ follow: 'FOLLOWING' });
    expect(await counts(h, ana, bob)).toEqual([
      { followerCount: 0, followingCount: 1 },
      { followerCount: 1, followingCount: 0 },
    ]);
    expect(await statusOf(h, ana, bob)).toMatchObject({ viewerFollowStatus: 'FOLLOWING', followsViewer: false });
    expect(await statusOf(h, bob, ana)).toMatchObject({ viewerFollowStatus: 'NONE', followsViewer: true });
    expect(ids((await listPage(h, 'followers', bob, null)).page)).toEqual([ana.id]);
    expect(ids((await listPage(h, 'following', ana, null)).page)).toEqual([bob.id]);
  });

  it('should keep one edge when following twice, and answer NONE when unfollowing someone not followed', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    expect((await follow(ana, bob)).body.data).toEqual({ follow: 'FOLLOWING' });
    expect((await follow(ana, bob)).body.data).toEqual({ follow: 'FOLLOWING' });
    expect(await h.db.follow.count({ where: { followeeId: bob.id } })).toBe(1);
    expect((await counts(h, bob))[0]!.followerCount).toBe(1);
    expect((await run(UNFOLLOW, ana, bob)).body.data).toEqual({ unfollow: 'NONE' });
    expect((await run(UNFOLLOW, ana, bob)).body.data).toEqual({ unfollow: 'NONE' });
    expect(await counts(h, ana, bob)).toEqual([
      { followerCount: 0, followingCount: 0 },
      { followerCount: 0, followingCount: 0 },
    ]);
    await eventually(() => expect(events.of(SocialSubjects.followDeleted, ana.id, bob.id)).toHaveLength(1));
    expect(events.of(SocialSubjects.followCreated, ana.id, bob.id)).toHaveLength(1);
  });

  it('should answer anonymous viewers NONE and false', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    await follow(bob, ana);
    expect(await statusOf(h, null, ana)).toMatchObject({ viewerFollowStatus: 'NONE', followsViewer: false });
    expect(await statusOf(h, ana, ana)).toMatchObject({ viewerFollowStatus: 'NONE', followsViewer: false });
  });
});

describe('bad input and authorization', () => {
  it('should require a signed-in user for every mutation and for followRequests', async () => {
    const target = await createUser(h);
    for (const name of [
      'follow',
      'unfollow',
      'approveFollowRequest',
      'rejectFollowRequest',
      'block',
      'unblock',
      'mute',
      'unmute',
    ]) {
      const res = await h.request(`mutation($id: ID!) { ${name}(userId: $id) }`, { id: target.id });
      expect(codeOf(res), name).toBe('UNAUTHENTICATED');
    }
    expect(codeOf(await h.request(FOLLOW_REQUESTS))).toBe('UNAUTHENTICATED');
  });

  it('should reject following, blocking or muting yourself as bad input', async () => {
    const ana = await createUser(h);
    for (const mutation of [FOLLOW, UNFOLLOW, BLOCK, MUTE, APPROVE]) {
      expect(codeOf(await run(mutation, ana, ana))).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(await follow(ana, ana.id.toUpperCase()))).toBe('BAD_USER_INPUT');
  });

  it('should answer NOT_FOUND for unknown users and ids that name nobody', async () => {
    const ana = await createUser(h);
    for (const mutation of [FOLLOW, UNFOLLOW, BLOCK, UNBLOCK, MUTE, UNMUTE, APPROVE, REJECT]) {
      for (const id of [randomUUID(), 'not-an-id']) {
        expect(codeOf(await h.request(mutation, { id }, ana.identity)), `${mutation} ${id}`).toBe('NOT_FOUND');
      }
    }
  });

  it('should find a user only once the users stream has announced them', async () => {
    const ana = await createUser(h);
    const early = randomUUID();
    expect(codeOf(await follow(ana, early))).toBe('NOT_FOUND');
    await publishUsersEvent(h.bus, 'users.user.created', {
      userId: early,
      username: 'early',
      isPrivate: false,
      createdAt: new Date().toISOString(),
    });
    await eventually(async () => expect((await follow(ana, early)).body.data).toEqual({ follow: 'FOLLOWING' }));
  });
});

describe('private accounts', () => {
  it('should turn a follow into a request that the owner approves', async () => {
    const [ana, priv] = [await createUser(h), await createUser(h, { isPrivate: true })];
    expect((await follow(ana, priv)).body.data).toEqual({ follow: 'REQUESTED' });
    expect((await follow(ana, priv)).body.data).toEqual({ follow: 'REQUESTED' });
    expect(await statusOf(h, ana, priv)).toMatchObject({ viewerFollowStatus: 'REQUESTED' });
    expect((await counts(h, priv))[0]!.followerCount).toBe(0);
    const requests = await h.request(FOLLOW_REQUESTS, {}, priv.identity);
    expect(ids(requests.body.data!.followRequests)).toEqual([ana.id]);

    expect((await run(APPROVE, priv, ana)).body.data).toEqual({ approveFollowRequest: true });
    expect((await run(APPROVE, priv, ana)).body.data).toEqual({ approveFollowRequest: true });
    expect(await statusOf(h, ana, priv)).toMatchObject({ viewerFollowStatus: 'FOLLOWING' });
    expect(await counts(h, ana, priv)).toEqual([
      { followerCount: 0, followingCount: 1 },
      { followerCount: 1, followingCount: 0 },
    ]);
    expect(ids((await h.request(FOLLOW_REQUESTS, {}, priv.identity)).body.data!.followRequests)).toEqual([]);
    expect((await follow(ana, priv)).body.data).toEqual({ follow: 'FOLLOWING' });
    await eventually(() => expect(events.of(SocialSubjects.followApproved, ana.id, priv.id)).toHaveLength(1));
    expect(events.of(SocialSubjects.followRequested, ana.id, priv.id)).toHaveLength(1);
    expect(events.of(SocialSubjects.followApproved, ana.id, priv.id)[0]!.data).toMatchObject({ reason: 'APPROVED' });
  });

  it('should drop a rejected request without a follow', async () => {
    const [ana, priv] = [await createUser(h), await createUser(h, { isPrivate: true })];
    await follow(ana, priv);
    expect((await run(REJECT, priv, ana)).body.data).toEqual({ rejectFollowRequest: true });
    expect((await run(REJECT, priv, ana)).body.data).toEqual({ rejectFollowRequest: true });
    expect(await statusOf(h, ana, priv)).toMatchObject({ viewerFollowStatus: 'NONE' });
    expect(codeOf(await run(APPROVE, priv, ana))).toBe('NOT_FOUND');
    expect(await h.db.follow.count({ where: { followeeId: priv.id } })).toBe(0);
    await eventually(() => expect(events.of(SocialSubjects.followRejected, ana.id, priv.id)).toHaveLength(1));
  });

  it('should not let anyone approve or reject a request addressed to someone else', async () => {
    const [ana, priv, eve] = [await createUser(h), await createUser(h, { isPrivate: true }), await createUser(h)];
    await follow(ana, priv);
    expect(codeOf(await run(APPROVE, eve, ana))).toBe('NOT_FOUND');
    expect(codeOf(await run(APPROVE, ana, priv))).toBe('NOT_FOUND');
    await run(REJECT, eve, ana);
    expect(await statusOf(h, ana, priv)).toMatchObject({ viewerFollowStatus: 'REQUESTED' });
    expect(await h.db.follow.count({ where: { followeeId: priv.id } })).toBe(0);
  });

  it('should withdraw a pending request on unfollow', async () => {
    const [ana, priv] = [await createUser(h), await createUser(h, { isPrivate: true })];
    await follow(ana, priv);
    expect((await run(UNFOLLOW, ana, priv)).body.data).toEqual({ unfollow: 'NONE' });
    expect(await statusOf(h, ana, priv)).toMatchObject({ viewerFollowStatus: 'NONE' });
    await eventually(() => expect(events.of(SocialSubjects.followCancelled, ana.id, priv.id)).toHaveLength(1));
    expect(events.of(SocialSubjects.followCancelled, ana.id, priv.id)[0]!.data).toMatchObject({ reason: 'WITHDRAWN' });
  });

  it('should approve every pending request when the account becomes public', async () => {
    const priv = await createUser(h, { isPrivate: true });
    const fans = await Promise.all([1, 2, 3].map(() => createUser(h)));
    for (const fan of fans) expect((await follow(fan, priv)).body.data).toEqual({ follow: 'REQUESTED' });
    await setPrivate(h, priv, false);
    for (const fan of fans) expect(await statusOf(h, fan, priv)).toMatchObject({ viewerFollowStatus: 'FOLLOWING' });
    expect((await counts(h, priv))[0]!.followerCount).toBe(3);
    await eventually(() => expect(events.of(SocialSubjects.followApproved, priv.id)).toHaveLength(3));
    expect(events.of(SocialSubjects.followApproved, priv.id).map((e) => e.data.reason)).toEqual([
      'ACCOUNT_PUBLIC',
      'ACCOUNT_PUBLIC',
      'ACCOUNT_PUBLIC',
    ]);
    const late = await createUser(h);
    expect((await follow(late, priv)).body.data).toEqual({ follow: 'FOLLOWING' });
  });

  it('should ignore a users event older than the one applied, and a redelivered one', async () => {
    const user = await createUser(h, { isPrivate: true });
    const now = Date.now();
    await setPrivate(h, user, false, new Date(now + 1000));
    await publishUsersEvent(
      h.bus,
      'users.user.updated',
      { userId: user.id, isPrivate: true, changed: ['isPrivate'] },
      new Date(now + 500),
    );
    await setPrivate(h, user, false, new Date(now + 1000));
    const account = await h.db.socialAccount.findUniqueOrThrow({ where: { userId: user.id } });
    expect(account).toMatchObject({ isPrivate: false });
  });

  it('should show the lists of a private account only to its owner and its followers', async () => {
    const [priv, fan, stranger] = [await createUser(h, { isPrivate: true }), await createUser(h), await createUser(h)];
    await follow(fan, priv);
    await run(APPROVE, priv, fan);
    expect(ids((await listPage(h, 'followers', priv, priv)).page)).toEqual([fan.id]);
    expect(ids((await listPage(h, 'followers', priv, fan)).page)).toEqual([fan.id]);
    expect(ids((await listPage(h, 'followers', priv, stranger)).page)).toEqual([]);
    expect(ids((await listPage(h, 'followers', priv, null)).page)).toEqual([]);
    expect((await counts(h, priv))[0]!.followerCount).toBe(1);
  });
});

describe('block', () => {
  it('should remove follows both ways and pending requests, and keep counts exact', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    const priv = await createUser(h, { isPrivate: true });
    await follow(ana, bob);
    await follow(bob, ana);
    await follow(ana, priv);
    await follow(priv, ana);
    expect((await run(BLOCK, ana, bob)).body.data).toEqual({ block: true });
    expect((await run(BLOCK, priv, ana)).body.data).toEqual({ block: true });
    expect(await counts(h, ana, bob, priv)).toEqual([
      { followerCount: 0, followingCount: 0 },
      { followerCount: 0, followingCount: 0 },
      { followerCount: 0, followingCount: 0 },
    ]);
    expect(await h.db.followRequest.count({ where: { targetId: priv.id } })).toBe(0);
    await expectExactCounts(h.db);
    await eventually(() => expect(events.of(SocialSubjects.blockCreated, priv.id, ana.id)).toHaveLength(1));
    expect(events.of(SocialSubjects.followDeleted, ana.id, bob.id).map((e) => e.data.reason)).toEqual([
      'BLOCK',
      'BLOCK',
    ]);
    expect(events.of(SocialSubjects.followCancelled, ana.id, priv.id)).toHaveLength(1);
  });

  it('should forbid following either way while blocked, and allow it again after unblock', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    await run(BLOCK, ana, bob);
    expect((await run(BLOCK, ana, bob)).body.data).toEqual({ block: true });
    expect(codeOf(await follow(ana, bob))).toBe('FORBIDDEN');
    expect(codeOf(await follow(bob, ana))).toBe('FORBIDDEN');
    expect((await run(UNBLOCK, ana, bob)).body.data).toEqual({ unblock: true });
    expect((await run(UNBLOCK, ana, bob)).body.data).toEqual({ unblock: true });
    expect((await follow(bob, ana)).body.data).toEqual({ follow: 'FOLLOWING' });
    await eventually(() => expect(events.of(SocialSubjects.blockDeleted, ana.id, bob.id)).toHaveLength(1));
    expect(events.of(SocialSubjects.blockCreated, ana.id, bob.id)).toHaveLength(1);
  });

  it('should hide the blocker from the blocked user in lists', async () => {
    const [blocker, blocked, celeb] = [await createUser(h), await createUser(h), await createUser(h)];
    await follow(blocker, celeb);
    await follow(blocked, celeb);
    await follow(celeb, blocker);
    await run(BLOCK, blocker, blocked);
    expect(ids((await listPage(h, 'followers', celeb, blocked)).page)).toEqual([blocked.id]);
    expect(ids((await listPage(h, 'following', celeb, blocked)).page)).toEqual([]);
    expect(ids((await listPage(h, 'followers', celeb, null)).page).sort()).toEqual([blocker.id, blocked.id].sort());
    expect(ids((await listPage(h, 'following', blocker, blocked)).page)).toEqual([]);
    expect(ids((await listPage(h, 'following', blocker, celeb)).page)).toEqual([celeb.id]);
  });
});

describe('mute', () => {
  it('should record a mute idempotently without telling the muted user', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    await follow(ana, bob);
    expect((await run(MUTE, ana, bob)).body.data).toEqual({ mute: true });
    expect((await run(MUTE, ana, bob)).body.data).toEqual({ mute: true });
    const seenByAna = await h.request(RELATIONS, { v: ana.id, t: [bob.id] }, TEST_SERVICE);
    expect(seenByAna.body.data!.relations).toEqual([
      { targetId: bob.id, following: true, requested: false, blocked: false, muted: true, targetIsPrivate: false },
    ]);
    const seenByBob = await h.request(RELATIONS, { v: bob.id, t: [ana.id] }, TEST_SERVICE);
    expect(seenByBob.body.data!.relations[0]).toMatchObject({ muted: false, blocked: false });
    expect(await statusOf(h, bob, ana)).toMatchObject({ followsViewer: true });
    expect((await run(UNMUTE, ana, bob)).body.data).toEqual({ unmute: true });
    expect((await run(UNMUTE, ana, bob)).body.data).toEqual({ unmute: true });
    await eventually(() => expect(events.of(SocialSubjects.muteDeleted, ana.id, bob.id)).toHaveLength(1));
    expect(events.of(SocialSubjects.muteCreated, ana.id, bob.id)).toHaveLength(1);
  });
});

describe('pagination', () => {
  let celeb: TestUser;
  const fans: TestUser[] = [];
  beforeAll(async () => {
    celeb = await createUser(h);
    for (let i = 0; i < 7; i++) fans.push(await createUser(h));
    for (const fan of fans) await follow(fan, celeb);
    // Same created_at for some edges: the id breaks the tie.
    await h.db.follow.updateMany({
      where: { followeeId: celeb.id, followerId: { in: fans.slice(2, 5).map((f) => f.id) } },
      data: { createdAt: new Date('2026-01-01T00:00:00Z') },
    });
  });

  async function pageThrough(first: number, between: (pageNumber: number) => Promise<void> = async () => undefined) {
    const seen: string[] = [];
    let after: string | null = null;
    for (let n = 0; ; n++) {
      const { page, res } = await listPage(h, 'followers', celeb, null, { first, after });
      expect(res.body.errors).toBeUndefined();
      seen.push(...ids(page));
      if (!page!.pageInfo.hasNextPage) break;
      after = page!.pageInfo.endCursor;
      await between(n);
    }
    return seen;
  }

  it('should list followers newest first without gaps or repeats', async () => {
    const all = ids((await listPage(h, 'followers', celeb, null, { first: 100 })).page);
    expect(all).toHaveLength(7);
    expect(await pageThrough(2)).toEqual(all);
    expect(await pageThrough(1)).toEqual(all);
  });

  it('should stay stable while new followers arrive between pages', async () => {
    const before = ids((await listPage(h, 'followers', celeb, null, { first: 100 })).page);
    const newcomers: TestUser[] = [];
    const seen = await pageThrough(2, async () => {
      const newcomer = await createUser(h);
      newcomers.push(newcomer);
      await follow(newcomer, celeb);
    });
    expect(seen).toEqual(before);
    const now = ids((await listPage(h, 'followers', celeb, null, { first: 100 })).page);
    expect(now.slice(0, newcomers.length)).toEqual(newcomers.map((n) => n.id).reverse());
    for (const newcomer of newcomers) await run(UNFOLLOW, newcomer, celeb);
  });

  it('should reject forged cursors, cursors of another list and pages over 100', async () => {
    const { page } = await listPage(h, 'followers', celeb, null, { first: 1 });
    const cursor = page!.pageInfo.endCursor!;
    const forged = Buffer.from(JSON.stringify({ l: `followers:${celeb.id}`, k: { t: 'x' } })).toString('base64url');
    for (const variables of [{ after: 'forged' }, { after: forged }, { first: 101 }, { first: -1 }]) {
      expect(codeOf((await listPage(h, 'followers', celeb, null, variables)).res)).toBe('BAD_USER_INPUT');
    }
    expect(codeOf((await listPage(h, 'following', celeb, null, { after: cursor })).res)).toBe('BAD_USER_INPUT');
    expect(codeOf((await listPage(h, 'followers', fans[0]!, null, { after: cursor })).res)).toBe('BAD_USER_INPUT');
    expect(codeOf(await h.request(FOLLOW_REQUESTS, { after: cursor }, celeb.identity))).toBe('BAD_USER_INPUT');
  });

  it('should serve a deep page from the index, starting the scan at the cursor, without a sort', async () => {
    for (const [column, other, index] of [
      ['followee_id', 'follower_id', 'follows_followee_id_created_at_follower_id_idx'],
      ['follower_id', 'followee_id', 'follows_follower_id_created_at_followee_id_idx'],
    ]) {
      const plan = await h.db.$transaction(async (tx) => {
        // The tables are tiny here; forbid the plans that only win on tiny tables (the bench has 1M rows).
        await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
        await tx.$executeRawUnsafe('SET LOCAL enable_bitmapscan = off');
        return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
          `EXPLAIN SELECT ${other}, created_at FROM social.follows
           WHERE ${column} = $1::uuid AND (created_at, ${other}) < ($2::timestamptz, $3::uuid)
           ORDER BY created_at DESC, ${other} DESC LIMIT 51`,
          celeb.id,
          new Date(),
          randomUUID(),
        );
      });
      const text = plan.map((r) => r['QUERY PLAN']).join('\n');
      expect(text).toContain(index);
      expect(text).toMatch(/Index Cond: .*ROW\(created_at, /);
      expect(text).not.toContain('Sort');
    }
  });
});

describe('internal readers', () => {
  it('should page through all follower ids in keyset pages', async () => {
    const celeb = await createUser(h);
    const fans = await Promise.all(Array.from({ length: 5 }, () => createUser(h)));
    for (const fan of fans) await follow(fan, celeb);
    const Q =
      'query($u: ID!, $first: Int, $after: String) { followerIds(userId: $u, first: $first, after: $after) { ids endCursor hasNextPage } }';
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: { body: { data?: any } } = await h.request(Q, { u: celeb.id, first: 2, after }, TEST_SERVICE);
      const page = res.body.data!.followerIds;
      seen.push(...page.ids);
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(seen.sort()).toEqual(fans.map((f) => f.id).sort());
    expect(codeOf(await h.request(Q, { u: celeb.id, first: 5001 }, TEST_SERVICE))).toBe('BAD_USER_INPUT');
    expect(codeOf(await h.request(Q, { u: celeb.id, after: 'forged' }, TEST_SERVICE))).toBe('BAD_USER_INPUT');
    expect((await h.request(Q, { u: celeb.id }, TEST_SERVICE)).body.data!.followerIds.ids).toHaveLength(5);
  });

  it('should answer relations for many targets at once, unknown ones related to nothing and private', async () => {
    const viewer = await createUser(h);
    const [followed, requested, blocker, muted] = [
      await createUser(h),
      await createUser(h, { isPrivate: true }),
      await createUser(h),
      await createUser(h),
    ];
    await follow(viewer, followed);
    await follow(viewer, requested);
    await run(BLOCK, blocker, viewer);
    await run(MUTE, viewer, muted);
    const unknown = randomUUID();
    const res = await h.request(
      RELATIONS,
      {
        v: viewer.id,
        t: [followed.id, requested.id, blocker.id, muted.id, unknown, 'nobody'],
      },
      TEST_SERVICE,
    );
    const none = { following: false, requested: false, blocked: false, muted: false, targetIsPrivate: false };
    expect(res.body.data!.relations).toEqual([
      { ...none, targetId: followed.id, following: true },
      { ...none, targetId: requested.id, requested: true, targetIsPrivate: true },
      { ...none, targetId: blocker.id, blocked: true },
      { ...none, targetId: muted.id, muted: true },
      // Unknown (or not yet replicated) accounts are private: fail closed.
      { ...none, targetId: unknown, targetIsPrivate: true },
      { ...none, targetId: 'nobody', targetIsPrivate: true },
    ]);
    for (const nobody of ['nobody', '00000000-0000-0000-0000-000000000000']) {
      const anonymous = await h.request(RELATIONS, { v: nobody, t: [requested.id, followed.id] }, TEST_SERVICE);
      expect(anonymous.body.data!.relations).toEqual([
        { ...none, targetId: requested.id, targetIsPrivate: true },
        { ...none, targetId: followed.id },
      ]);
    }
    const tooMany = Array.from({ length: 501 }, () => randomUUID());
    expect(codeOf(await h.request(RELATIONS, { v: viewer.id, t: tooMany }, TEST_SERVICE))).toBe('BAD_USER_INPUT');
  });

  it('should check mutes and blocks for many pairs at once, in order', async () => {
    const [a, b, c] = [await createUser(h), await createUser(h), await createUser(h)];
    await run(MUTE, a, b);
    await run(BLOCK, c, a);
    const Q = 'query($p: [UserPairInput!]!) { mutedOrBlocked(pairs: $p) { userId otherId muted blocked } }';
    const pairs = [
      { userId: a.id, otherId: b.id },
      { userId: b.id, otherId: a.id },
      { userId: a.id, otherId: c.id },
      { userId: c.id, otherId: a.id },
      { userId: b.id, otherId: c.id },
    ];
    const res = await h.request(Q, { p: pairs }, TEST_SERVICE);
    expect(res.body.data!.mutedOrBlocked).toEqual([
      { ...pairs[0], muted: true, blocked: false },
      { ...pairs[1], muted: false, blocked: false },
      { ...pairs[2], muted: false, blocked: true },
      { ...pairs[3], muted: false, blocked: true },
      { ...pairs[4], muted: false, blocked: false },
    ]);
  });

  it('should answer audience as relations does, for many viewers of one target, as the viewers of each relation', async () => {
    const priv = await createUser(h, { isPrivate: true });
    const [fan, asker, blocked, stranger] = [
      await createUser(h),
      await createUser(h),
      await createUser(h),
      await createUser(h),
    ];
    await run(FOLLOW, fan, priv);
    await run(APPROVE, priv, fan);
    await run(FOLLOW, asker, priv);
    await run(BLOCK, priv, blocked);
    await run(MUTE, stranger, priv);
    const Q =
      'query($t: ID!, $v: [ID!]!) { audience(targetId: $t, viewerIds: $v) { targetId targetIsPrivate following requested blocked muted } }';
    const viewers = [stranger, fan, blocked, asker];
    const res = await h.request(Q, { t: priv.id, v: [...viewers.map((u) => u.id), 'not-a-uuid'] }, TEST_SERVICE);
    expect(res.body.data!.audience).toEqual({
      targetId: priv.id,
      targetIsPrivate: true,
      following: [fan.id],
      requested: [asker.id],
      blocked: [blocked.id],
      muted: [stranger.id],
    });
    const audience = res.body.data!.audience as Record<'following' | 'requested' | 'blocked' | 'muted', string[]>;
    for (const viewer of viewers) {
      const one = await h.request(RELATIONS, { v: viewer.id, t: [priv.id] }, TEST_SERVICE);
      const [relation] = one.body.data!.relations as Record<string, unknown>[];
      for (const key of ['following', 'requested', 'blocked', 'muted'] as const) {
        expect(audience[key].includes(viewer.id), `${key} of a viewer`).toBe(relation![key]);
      }
    }
    const unknown = await h.request(Q, { t: randomUUID(), v: [fan.id] }, TEST_SERVICE);
    expect(unknown.body.data!.audience).toMatchObject({ targetIsPrivate: true, following: [] });
    expect(codeOf(await h.request(Q, { t: priv.id, v: [fan.id] }, fan.identity))).toBe('FORBIDDEN');
  });

  it('should answer FORBIDDEN to internal fields signed for a user or an anonymous client, revealing nothing', async () => {
    const priv = await createUser(h, { isPrivate: true });
    const [fan, outsider] = [await createUser(h), await createUser(h)];
    await run(FOLLOW, fan, priv);
    await run(APPROVE, priv, fan);
    await run(MUTE, priv, outsider);
    const probes = [
      ['query($u: ID!) { followerIds(userId: $u) { ids } }', { u: priv.id }],
      [
        'query($p: [UserPairInput!]!) { mutedOrBlocked(pairs: $p) { muted } }',
        { p: [{ userId: priv.id, otherId: outsider.id }] },
      ],
      [RELATIONS, { v: priv.id, t: [outsider.id] }],
      // Hidden inside a fragment, and next to a public field.
      [
        'query($u: ID!) { followRequests { edges { node { id } } } ...F } fragment F on Query { followerIds(userId: $u) { ids } }',
        { u: priv.id },
      ],
    ] as const;
    for (const [query, variables] of probes) {
      for (const principal of [null, outsider.identity, priv.identity]) {
        const res = await h.request(query, variables, principal);
        expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(JSON.stringify(res.body)).not.toContain(fan.id);
        expect(res.body.data ?? null).toBeNull();
      }
    }
    // The same question asked by a service is answered.
    expect((await h.request(probes[0][0], probes[0][1], TEST_SERVICE)).body.data!.followerIds.ids).toEqual([fan.id]);
  });

  it('should keep the internal fields out of the public API', async () => {
    const supergraph = await readFile(new URL('../../../schema/supergraph.graphql', import.meta.url), 'utf8');
    expect(supergraph).toMatch(/relations\(viewerId: ID!, targetIds: \[ID!\]!\): \[Relation!\]! @inaccessible/);
    expect(supergraph).toMatch(/followerIds\(userId: ID!, first: Int, after: String\): IdPage! @inaccessible/);
    expect(supergraph).toMatch(/mutedOrBlocked\(pairs: \[UserPairInput!\]!\): \[PairRelation!\]! @inaccessible/);
  });
});

describe('concurrency', () => {
  it('should keep counts exact under many concurrent follows, unfollows and blocks, without deadlocks', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => createUser(h)));
    const operations = [];
    for (let i = 0; i < 240; i++) {
      const a = users[i % users.length]!;
      const b = users[(i * 7 + 3) % users.length]!;
      if (a === b) continue;
      const kind = i % 11 === 0 ? BLOCK : i % 13 === 0 ? UNBLOCK : i % 3 === 0 ? UNFOLLOW : FOLLOW;
      operations.push(run(kind, a, b));
    }
    const results = await Promise.all(operations);
    for (const res of results) {
      expect(res.status).toBe(200);
      expect([undefined, 'FORBIDDEN']).toContain(codeOf(res));
    }
    await expectExactCounts(h.db);
    const blocked = await h.db.block.findMany({ where: { blockerId: { in: users.map((u) => u.id) } } });
    for (const b of blocked) {
      const edges = await h.db.follow.count({
        where: {
          OR: [
            { followerId: b.blockerId, followeeId: b.blockedId },
            { followerId: b.blockedId, followeeId: b.blockerId },
          ],
        },
      });
      expect(edges).toBe(0);
    }
  });

  it('should leave no request pending when follows race with the account turning public', async () => {
    const priv = await createUser(h, { isPrivate: true });
    const fans = await Promise.all(Array.from({ length: 12 }, () => createUser(h)));
    const early = fans.slice(0, 4);
    for (const fan of early) await follow(fan, priv);
    const [results] = await Promise.all([
      Promise.all(fans.map((fan) => follow(fan, priv))),
      setPrivate(h, priv, false),
    ]);
    for (const res of results) expect(['FOLLOWING', 'REQUESTED']).toContain(res.body.data?.follow);
    expect(await h.db.followRequest.count({ where: { targetId: priv.id } })).toBe(0);
    expect(await h.db.follow.count({ where: { followeeId: priv.id } })).toBe(fans.length);
    await expectExactCounts(h.db);
  });

  it('should count one edge when the same follow races with itself', async () => {
    const [ana, bob] = [await createUser(h), await createUser(h)];
    const results = await Promise.all(Array.from({ length: 20 }, () => follow(ana, bob)));
    expect(new Set(results.map((r) => r.body.data?.follow))).toEqual(new Set(['FOLLOWING']));
    expect(await counts(h, bob)).toEqual([{ followerCount: 1, followingCount: 0 }]);
    await eventually(() => expect(events.of(SocialSubjects.followCreated, ana.id, bob.id)).toHaveLength(1));
  });
});
