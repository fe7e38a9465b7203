import { describe, expect, it } from 'vitest';
import { SocialSubjects } from '@insta/events';
import type { EventBus } from '@insta/infra';
import { silentLogger } from '@insta/infra/testing';
import { startSocialGraphSubgraph } from '../src/server.ts';
import {
  APPROVE,
  BLOCK,
  collectSocialEvents,
  createUser,
  eventually,
  FOLLOW,
  MUTE,
  REJECT,
  setPrivate,
  startSocialHarness,
  UNBLOCK,
  UNFOLLOW,
  UNMUTE,
  type SocialHarness,
} from './harness.ts';

type Fault = 'none' | 'before-publish' | 'after-publish';

/** The bus as the outbox relay sees it, made to "die" right before or right after publishing a social event. */
function faultyBus(bus: EventBus, fault: { mode: Fault }): EventBus {
  return {
    ensureStream: (spec) => bus.ensureStream(spec),
    consume: (spec) => bus.consume(spec),
    subscribe: (subject) => bus.subscribe(subject),
    announce: (subject, data) => bus.announce(subject, data),
    deadLetters: (filter) => bus.deadLetters(filter),
    replayDeadLetter: (stream, id) => bus.replayDeadLetter(stream, id),
    dropDeadLetter: (stream, id) => bus.dropDeadLetter(stream, id),
    ping: () => bus.ping(),
    close: () => bus.close(),
    async publish(subject, data, options) {
      const social = subject.startsWith('social.');
      if (social && fault.mode === 'before-publish') throw new Error('killed before publish');
      await bus.publish(subject, data, options);
      if (social && fault.mode === 'after-publish') throw new Error('killed after publish');
    },
  };
}

/**
 * Waits until the outbox is empty, then publishes a marker and waits for it: everything the relay published
 * (a duplicate included, had JetStream let one through) has been delivered by then.
 */
async function drained(h: SocialHarness, events: Awaited<ReturnType<typeof collectSocialEvents>>) {
  await eventually(async () => expect(await h.db.socialOutbox.count()).toBe(0));
  const marker = `marker-${Math.random()}`;
  await h.bus.publish('social.test.marker', { marker });
  await eventually(() => expect(events.received.some((m) => m.data.marker === marker)).toBe(true));
}

describe('social events', () => {
  it('should publish exactly one event per change, in order, with an id and a time', async () => {
    const h = await startSocialHarness();
    const events = await collectSocialEvents(h.bus);
    try {
      const [ana, bob] = [await createUser(h), await createUser(h)];
      const priv = await createUser(h, { isPrivate: true });
      const as = (user: typeof ana, mutation: string, target: typeof ana) =>
        h.request(mutation, { id: target.id }, user.identity);
      await as(ana, FOLLOW, bob);
      await as(ana, FOLLOW, bob);
      await as(ana, UNFOLLOW, bob);
      await as(ana, UNFOLLOW, bob);
      await as(ana, FOLLOW, priv);
      await as(priv, REJECT, ana);
      await as(bob, FOLLOW, priv);
      await as(priv, APPROVE, bob);
      await as(ana, FOLLOW, priv);
      await setPrivate(h, priv, false);
      await as(ana, MUTE, bob);
      await as(ana, MUTE, bob);
      await as(ana, UNMUTE, bob);
      await as(bob, FOLLOW, ana);
      await as(ana, BLOCK, bob);
      await as(ana, BLOCK, bob);
      await as(ana, UNBLOCK, bob);
      await drained(h, events);
      const social = events.received.filter((m) => m.subject !== 'social.test.marker');
      expect(social.map((m) => [m.subject, m.data])).toEqual([
        [SocialSubjects.followCreated, expect.objectContaining({ followerId: ana.id, followeeId: bob.id })],
        [
          SocialSubjects.followDeleted,
          expect.objectContaining({ followerId: ana.id, followeeId: bob.id, reason: 'UNFOLLOW' }),
        ],
        [SocialSubjects.followRequested, expect.objectContaining({ followerId: ana.id, followeeId: priv.id })],
        [SocialSubjects.followRejected, expect.objectContaining({ followerId: ana.id, followeeId: priv.id })],
        [SocialSubjects.followRequested, expect.objectContaining({ followerId: bob.id, followeeId: priv.id })],
        [
          SocialSubjects.followApproved,
          expect.objectContaining({ followerId: bob.id, followeeId: priv.id, reason: 'APPROVED' }),
        ],
        [SocialSubjects.followRequested, expect.objectContaining({ followerId: ana.id, followeeId: priv.id })],
        [SocialSubjects.accountPrivacyChanged, expect.objectContaining({ userId: priv.id, isPrivate: false })],
        [
          SocialSubjects.followApproved,
          expect.objectContaining({ followerId: ana.id, followeeId: priv.id, reason: 'ACCOUNT_PUBLIC' }),
        ],
        [SocialSubjects.muteCreated, expect.objectContaining({ muterId: ana.id, mutedId: bob.id })],
        [SocialSubjects.muteDeleted, expect.objectContaining({ muterId: ana.id, mutedId: bob.id })],
        [SocialSubjects.followCreated, expect.objectContaining({ followerId: bob.id, followeeId: ana.id })],
        [
          SocialSubjects.followDeleted,
          expect.objectContaining({ followerId: bob.id, followeeId: ana.id, reason: 'BLOCK' }),
        ],
        [SocialSubjects.blockCreated, expect.objectContaining({ blockerId: ana.id, blockedId: bob.id })],
        [SocialSubjects.blockDeleted, expect.objectContaining({ blockerId: ana.id, blockedId: bob.id })],
      ]);
      expect(new Set(social.map((m) => m.data.eventId)).size).toBe(social.length);
      for (const m of social) expect(new Date(m.data.occurredAt).toISOString()).toBe(m.data.occurredAt);
    } finally {
      await events.stop();
      await h.stop();
    }
  });

  for (const mode of ['after-publish', 'before-publish'] as const) {
    it(`should publish a follow exactly once when the publisher dies ${mode.replace('-', ' ')}, after the commit`, async () => {
      const fault: { mode: Fault } = { mode: 'none' };
      const h = await startSocialHarness((deps) =>
        startSocialGraphSubgraph({ ...deps, bus: faultyBus(deps.bus, fault) }),
      );
      const events = await collectSocialEvents(h.bus);
      try {
        const [ana, bob] = [await createUser(h), await createUser(h)];
        fault.mode = mode;
        expect((await h.request(FOLLOW, { id: bob.id }, ana.identity)).body.data).toEqual({ follow: 'FOLLOWING' });
        // Committed, and the relay has tried and "died": the event is still in the outbox.
        if (mode === 'after-publish') {
          await eventually(() => expect(events.of(SocialSubjects.followCreated, ana.id, bob.id)).toHaveLength(1));
        }
        expect(await h.db.socialOutbox.count()).toBe(1);
        await h.server.stop();

        // The restarted process finds the event in the outbox and publishes it (again, with the same msgId).
        const restarted = await startSocialGraphSubgraph({
          config: h.config,
          db: h.db,
          kv: h.kv,
          bus: h.bus,
          logger: silentLogger,
        });
        try {
          await drained(h, events);
        } finally {
          await restarted.stop();
        }
        expect(events.of(SocialSubjects.followCreated, ana.id, bob.id)).toHaveLength(1);
      } finally {
        await events.stop();
        await h.stop();
      }
    });
  }
});
