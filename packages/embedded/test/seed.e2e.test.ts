import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postGraphQL } from '@insta/infra/testing';
import { DEMO_PASSWORD, seedDemo } from '../src/demo/seed.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

let real: RealSystem;
beforeAll(async () => {
  real = await startRealSystem('seed', { RATE_LIMIT_AUTH: '5000/60' });
});
afterAll(() => real?.stop());

const COUNTS = `{
  me { followingCount followerCount avatar { status } }
  feed(first: 50) { edges { node { id author { username } likeCount commentCount media { kind status } } } }
  notifications(first: 50) { edges { node { type actorCount } } }
}`;

async function signIn(login: string) {
  const res = await postGraphQL(
    real.system.gatewayUrl,
    'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }',
    {
      i: { login, password: DEMO_PASSWORD },
    },
  );
  expect(res.body.errors).toBeUndefined();
  return (res.body.data!.signIn as { accessToken: string }).accessToken;
}

describe('the demo seed', () => {
  it('should build a network through the API that a second run leaves as it is', { timeout: 240_000 }, async () => {
    const options = { url: real.system.gatewayUrl, users: 12, ffmpegPath: 'ffmpeg' };
    const first = await seedDemo(options);
    expect(first).toMatchObject({ users: 16, privateAccounts: 2, videos: 2, pendingRequests: expect.any(Number) });
    expect(first.comments).toBeGreaterThan(0);

    const token = await signIn('ana');
    const read = async () =>
      (await postGraphQL(real.system.gatewayUrl, COUNTS, {}, { authorization: `Bearer ${token}` })).body;
    // Notifications come from events, after the API answered: wait until ben's comments are among them.
    const notificationTypes = (body: Awaited<ReturnType<typeof read>>) =>
      new Set((body.data as any).notifications.edges.map((e: any) => e.node.type));
    const before = await vi.waitFor(
      async () => {
        const body = await read();
        expect(body.errors).toBeUndefined();
        expect([...notificationTypes(body)]).toEqual(expect.arrayContaining(['FOLLOW', 'LIKE', 'COMMENT', 'MENTION']));
        return body;
      },
      { timeout: 30_000, interval: 200 },
    );
    const data = before.data as any;
    expect(data.me.avatar.status).toBe('READY');
    expect(data.me.followingCount).toBeGreaterThan(3);
    const authors = new Set(data.feed.edges.map((e: any) => e.node.author.username));
    expect(authors).toContain('celebrity');
    expect(authors).toContain('pia');
    expect(
      data.feed.edges.some((e: any) => e.node.media.some((m: any) => m.kind === 'VIDEO' && m.status === 'READY')),
    ).toBe(true);

    const second = await seedDemo(options);
    expect(second).toMatchObject({ users: first.users, posts: first.posts, comments: 0 });
    // What the seed writes (profiles, follows, posts, likes, comments) is unchanged; notifications are derived
    // from events and may still be arriving from the first run, so they are left out.
    const after = (await read()).data as any;
    expect({ me: after.me, feed: after.feed }).toEqual({ me: data.me, feed: data.feed });
  });
});
