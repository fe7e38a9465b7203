import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsersSubjects, type SessionRevokedEvent, type UserCreatedEvent, type UserUpdatedEvent } from '@insta/events';
import { verifyAccessToken, type BusMessage, type Consumer } from '@insta/infra';
import { TEST_SECRETS } from '@insta/infra/testing';
import { newUser, SIGN_UP, startUsersHarness, type UsersHarness } from './harness.ts';

let h: UsersHarness;
let consumer: Consumer;
const received: BusMessage<Record<string, unknown>>[] = [];
beforeAll(async () => {
  h = await startUsersHarness();
  consumer = await h.bus.consume<Record<string, unknown>>({
    stream: 'USERS',
    durable: 'users-events-test',
    filterSubject: 'users.>',
    maxDeliver: 1,
    handler: async (m) => void received.push(m),
  });
});
afterAll(async () => {
  await consumer.stop();
  await h.stop();
});

const eventsOf = <T>(subject: string, userId: string) =>
  received
    .filter((m) => m.subject === subject && m.data.userId === userId)
    .map((m) => m.data as T & { eventId: string });

describe('users events', () => {
  it('should publish user.created once per sign-up and empty the outbox', async () => {
    const input = newUser();
    const res = await h.request(SIGN_UP, { input });
    const userId = res.body.data!.signUp.user.id as string;
    await vi.waitFor(() => expect(eventsOf<UserCreatedEvent>(UsersSubjects.userCreated, userId)).toHaveLength(1));
    expect(eventsOf<UserCreatedEvent>(UsersSubjects.userCreated, userId)[0]).toMatchObject({
      userId,
      username: input.username,
      isPrivate: false,
    });
    await vi.waitFor(async () => expect(await h.db.usersOutbox.count()).toBe(0));
  });

  it('should publish user.updated with the new privacy setting', async () => {
    const res = await h.request(SIGN_UP, { input: newUser() });
    const verified = await verifyAccessToken(TEST_SECRETS.JWT_SECRET, res.body.data!.signUp.accessToken);
    if (!verified.ok) throw new Error('token');
    await h.request('mutation { updateProfile(input: { isPrivate: true }) { id } }', {}, verified.identity);
    await vi.waitFor(() =>
      expect(eventsOf<UserUpdatedEvent>(UsersSubjects.userUpdated, verified.identity.userId)).toHaveLength(1),
    );
    expect(eventsOf<UserUpdatedEvent>(UsersSubjects.userUpdated, verified.identity.userId)[0]).toMatchObject({
      isPrivate: true,
      changed: ['isPrivate'],
    });
  });

  it('should publish user.active on sign-in', async () => {
    const input = newUser();
    const res = await h.request(SIGN_UP, { input });
    const userId = res.body.data!.signUp.user.id as string;
    await h.request('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { login: input.username, password: input.password },
    });
    await vi.waitFor(() => expect(eventsOf(UsersSubjects.userActive, userId)).toHaveLength(1));
  });

  it('should publish session.revoked once when a session is signed out, for the gateways to close its sockets', async () => {
    const res = await h.request(SIGN_UP, { input: newUser() });
    const verified = await verifyAccessToken(TEST_SECRETS.JWT_SECRET, res.body.data!.signUp.accessToken);
    if (!verified.ok) throw new Error('token');
    const { userId, sessionId } = verified.identity;
    await h.request('mutation { signOut }', {}, verified.identity);
    await vi.waitFor(() => expect(eventsOf<SessionRevokedEvent>(UsersSubjects.sessionRevoked, userId)).toHaveLength(1));
    const [event] = eventsOf<SessionRevokedEvent>(UsersSubjects.sessionRevoked, userId);
    expect(event).toMatchObject({ sessionId, userId, reason: 'SIGN_OUT' });
    // Until the session's last access token has expired.
    expect(Date.parse(event!.expiresAt)).toBeGreaterThanOrEqual(verified.expiresAt * 1000 - 1000);
    // A second sign-out of the same session revokes nothing new and publishes nothing.
    await h.request('mutation { signOut }', {}, verified.identity);
    await vi.waitFor(async () => expect(await h.db.usersOutbox.count()).toBe(0));
    expect(eventsOf(UsersSubjects.sessionRevoked, userId)).toHaveLength(1);
  });
});
