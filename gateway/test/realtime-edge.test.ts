import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { USERS_STREAM, UsersSubjects, type SessionRevokedEvent } from '@insta/events';
import { revokedSessionKey } from '@insta/infra';
import { RealtimeCloseCode } from '../src/edge/close-codes.ts';
import {
  SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE,
  acceptsMultipartSubscriptions,
  subscriptionTransportPlugin,
} from '../src/http/http-subscriptions.ts';
import { MANIFEST_FORMAT, sha256Hex } from '../src/documents/manifest.ts';
import { accessToken, startTestGateway, type TestGateway } from './helpers.ts';
import { runOnce, type Closed } from './ws-client.ts';

/** A socket that stays open (not lazy), connected once `connected` resolves; `closes` records its close. */
function openSocket(url: string, authorization?: string) {
  const closes: Closed[] = [];
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client: Client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    ...(authorization ? { connectionParams: { authorization } } : {}),
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const { code, reason } = event as Closed;
        closes.push({ code, reason: String(reason) });
      },
    },
  });
  return { client, closes, connected };
}

const bearer = async (userId: string, sessionId: string, expiresAt?: number) =>
  `Bearer ${await accessToken({ userId, sessionId }, expiresAt === undefined ? {} : { expiresAt })}`;

describe('the realtime edge: sockets follow the session', () => {
  let t: TestGateway;
  const clients: Client[] = [];
  const open = (authorization?: string) => {
    const socket = openSocket(t.gateway.url, authorization);
    clients.push(socket.client);
    return socket;
  };
  beforeAll(async () => {
    t = await startTestGateway({
      REALTIME_EXPIRED_GRACE_MS: '300',
      REALTIME_MAX_CONNECTIONS_PER_USER: '2',
      // Long enough that only the bus (or an operation's own check) can close a revoked session's socket.
      REVOCATION_SYNC_INTERVAL_MS: '600000',
    });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.dispose();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should close every socket of a session with 4403 at once when its revocation arrives on the bus', async () => {
    const first = open(await bearer('u-bus', 's-bus'));
    const second = open(await bearer('u-bus', 's-bus'));
    const otherSession = open(await bearer('u-bus-2', 's-bus-other'));
    await Promise.all([first.connected, second.connected, otherSession.connected]);

    const event: SessionRevokedEvent = {
      sessionId: 's-bus',
      userId: 'u-bus',
      reason: 'SIGN_OUT',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    };
    await t.bus.ensureStream(USERS_STREAM);
    await t.bus.publish(UsersSubjects.sessionRevoked, event);

    await vi.waitFor(() => expect(first.closes).toHaveLength(1));
    await vi.waitFor(() => expect(second.closes).toHaveLength(1));
    expect(first.closes[0]).toEqual({ code: RealtimeCloseCode.Forbidden, reason: 'The session has been signed out' });
    expect(second.closes[0]?.code).toBe(RealtimeCloseCode.Forbidden);
    expect(otherSession.closes).toEqual([]);
    // The revocation is listed too: the same token cannot open a new socket, nor call over HTTP.
    const { status } = await t.post(
      { query: '{ seen { userId } }' },
      { authorization: await bearer('u-bus', 's-bus') },
    );
    expect(status).toBe(401);
  });

  it('should close an open socket with 4403 on its next operation once the session is revoked', async () => {
    const socket = open(await bearer('u-op', 's-op'));
    await socket.connected;
    expect(await runOnce(socket.client, '{ seen { userId } }')).toEqual({
      results: [{ data: { seen: { userId: 'u-op' } } }],
    });
    await t.kv.set(revokedSessionKey('s-op'), 'SIGN_OUT', 60_000);
    const touchesBefore = (await t.post({ query: '{ touches }' })).body.data?.touches;

    const outcome = await runOnce(socket.client, 'mutation { touch }');
    expect(outcome.results).toEqual([]);
    await vi.waitFor(() => expect(socket.closes).toHaveLength(1));
    expect(socket.closes[0]).toEqual({ code: RealtimeCloseCode.Forbidden, reason: 'The session has been signed out' });
    expect((await t.post({ query: '{ touches }' })).body.data?.touches).toBe(touchesBefore);
  });

  it('should refuse a mutation with UNAUTHENTICATED once the token expired, then close with 4440 after the grace', async () => {
    // The token expires 2 s from now (JWT times are whole seconds); the socket opens while it is valid.
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const socket = open(await bearer('u-exp', 's-exp', expiresAt));
    await socket.connected;
    const touchesBefore = (await t.post({ query: '{ touches }' })).body.data?.touches;

    await vi.waitFor(() => expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000), { timeout: 4_000 });
    const outcome = await runOnce(socket.client, 'mutation { touch }');
    expect(outcome.results).toEqual([]);
    expect(outcome.error).toEqual([
      expect.objectContaining({
        message: 'The access token has expired; reconnect with a fresh token',
        extensions: { code: 'UNAUTHENTICATED' },
      }),
    ]);
    expect((await t.post({ query: '{ touches }' })).body.data?.touches).toBe(touchesBefore);

    await vi.waitFor(() => expect(socket.closes).toHaveLength(1), { timeout: 3_000 });
    expect(socket.closes[0]?.code).toBe(RealtimeCloseCode.SessionExpired);
    // A fresh token on a new connection works again: that is how a client re-inits.
    const renewed = open(await bearer('u-exp', 's-exp'));
    await renewed.connected;
    expect((await runOnce(renewed.client, 'mutation { touch }')).results).toEqual([{ data: { touch: true } }]);
  });

  it('should close a third socket of one user with 4441, and count a closed one out', async () => {
    const token = await bearer('u-cap', 's-cap');
    const sockets = [open(token), open(token)];
    await Promise.all(sockets.map((s) => s.connected));
    const third = open(token);
    await vi.waitFor(() => expect(third.closes).toHaveLength(1));
    expect(third.closes[0]).toEqual({
      code: RealtimeCloseCode.TooManyConnectionsForUser,
      reason: 'At most 2 realtime connections per user',
    });
    // Another user is not affected; and once one socket closes, the user may open another.
    const other = open(await bearer('u-cap-other', 's-cap-other'));
    await other.connected;
    await sockets[0]!.client.dispose();
    await vi.waitFor(() => expect(t.gateway.openConnections()).toBe(2));
    const again = open(token);
    await again.connected;
    expect(again.closes).toEqual([]);
  });
});

describe('the realtime edge: per-address cap, origin and keep-alive', () => {
  let t: TestGateway;
  const clients: Client[] = [];
  beforeAll(async () => {
    t = await startTestGateway({
      REALTIME_MAX_CONNECTIONS_PER_IP: '2',
      CORS_ORIGINS: 'https://app.example.com',
      // The pong must come back within the interval too: on a loaded box 50 ms is too tight.
      WS_KEEPALIVE_MS: '250',
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await t.close();
  });

  it('should close a socket beyond the per-address cap with 4442', async () => {
    const sockets = [openSocket(t.gateway.url), openSocket(t.gateway.url)];
    clients.push(...sockets.map((s) => s.client));
    await Promise.all(sockets.map((s) => s.connected));
    const third = openSocket(t.gateway.url);
    clients.push(third.client);
    await vi.waitFor(() => expect(third.closes).toHaveLength(1));
    expect(third.closes[0]).toEqual({
      code: RealtimeCloseCode.TooManyConnectionsFromAddress,
      reason: 'At most 2 realtime connections per client address',
    });
    for (const socket of sockets) await socket.client.dispose();
    await vi.waitFor(() => expect(t.gateway.openConnections()).toBe(0));
  });

  it('should refuse the upgrade from an origin outside CORS_ORIGINS with 403, and accept an allowed one', async () => {
    const url = t.gateway.url.replace(/^http/, 'ws');
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(url, 'graphql-transport-ws', { origin: 'https://evil.example' });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
    });
    expect(refused).toBe(403);
    const allowed = new WebSocket(url, 'graphql-transport-ws', { origin: 'https://app.example.com' });
    await new Promise((resolve, reject) => {
      allowed.on('open', resolve);
      allowed.on('error', reject);
    });
    allowed.close();
  });

  it('should ping an idle socket every WS_KEEPALIVE_MS, so idle balancers keep it', async () => {
    const socket = new WebSocket(t.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise((resolve) => socket.on('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    // ws answers each ping with a pong by itself: the server keeps the socket.
    let pings = 0;
    await new Promise<void>((resolve, reject) => {
      socket.on('ping', () => {
        if (++pings === 2) resolve();
      });
      socket.on('close', (code) => reject(new Error(`closed with ${code} after ${pings} pings`)));
    });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('should terminate a socket that does not answer the ping by the next one, and keep the others', async () => {
    const url = t.gateway.url.replace(/^http/, 'ws');
    const open = (autoPong: boolean) =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong });
        socket.on('open', () => {
          socket.send(JSON.stringify({ type: 'connection_init' }));
          resolve(socket);
        });
        socket.on('error', reject);
      });
    const [silent, answering] = await Promise.all([open(false), open(true)]);
    let answeringPings = 0;
    answering.on('ping', () => void answeringPings++);
    const closed = await new Promise<{ code: number; pings: number }>((resolve) => {
      let pings = 0;
      silent.on('ping', () => void pings++);
      silent.on('close', (code) => resolve({ code, pings }));
    });
    // Terminated (no close frame: 1006) after it let a ping go unanswered; the answering one is still open.
    expect(closed).toEqual({ code: 1006, pings: 1 });
    await vi.waitFor(() => expect(answeringPings).toBeGreaterThanOrEqual(2));
    expect(answering.readyState).toBe(WebSocket.OPEN);
    answering.close();
  });

  it('should answer a subscription POSTed without the multipart Accept with 406 naming the transports', async () => {
    const { status, body } = await t.post({ query: 'subscription { anything }' });
    expect(status).toBe(406);
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE,
      transports: [
        expect.stringContaining('multipart/mixed;subscriptionSpec=1.0'),
        expect.stringContaining('graphql-transport-ws'),
      ],
    });
    const get = await fetch(`${t.gateway.url}?query=${encodeURIComponent('subscription { anything }')}`);
    expect(get.status).toBe(406);
    // A query that merely mentions the word is left to Apollo Server.
    const query = await t.post({ query: '{ seen { header(name: "subscription") } }' });
    expect(query.status).toBe(200);
  });
});

describe('acceptsMultipartSubscriptions', () => {
  it('should accept the Accept headers Apollo Client and the protocol use, quoted or not', () => {
    expect(
      acceptsMultipartSubscriptions('multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json'),
    ).toBe(true);
    expect(acceptsMultipartSubscriptions('application/json, multipart/mixed; subscriptionSpec="1.0"')).toBe(true);
  });

  it('should refuse multipart without the subscription spec, and other media types', () => {
    expect(acceptsMultipartSubscriptions('multipart/mixed;deferSpec=20220824')).toBe(false);
    expect(acceptsMultipartSubscriptions('application/graphql-response+json, application/json')).toBe(false);
    expect(acceptsMultipartSubscriptions('text/event-stream')).toBe(false);
    expect(acceptsMultipartSubscriptions(undefined)).toBe(false);
  });
});

describe('subscriptions sent as a trusted document id', () => {
  const SUBSCRIPTION = 'subscription { anything }';
  let t: TestGateway;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rtedge-documents-'));
    const path = join(dir, 'manifest.json');
    const documents = { [sha256Hex(SUBSCRIPTION)]: SUBSCRIPTION, [sha256Hex('{ touches }')]: '{ touches }' };
    await writeFile(path, JSON.stringify({ format: MANIFEST_FORMAT, documents }));
    t = await startTestGateway({ TRUSTED_DOCUMENTS_PATH: path });
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });
  const byId = (text: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(text) } } });

  it('should resolve the id to its text and answer 406 without the multipart Accept', async () => {
    const { status, body } = await t.post(byId(SUBSCRIPTION));
    expect(status).toBe(406);
    expect(body.errors?.[0]?.extensions?.code).toBe(SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE);
  });

  it('should leave a query sent by id to Apollo Server', async () => {
    const { status, body } = await t.post(byId('{ touches }'));
    expect(status).toBe(200);
    expect(body.data).toEqual({ touches: expect.any(Number) });
  });
});

describe('subscriptionTransportPlugin', () => {
  it('should refuse a subscription Apollo Server resolved with 406 and the transports, and let others run', async () => {
    const hooks = await subscriptionTransportPlugin().requestDidStart!({} as never);
    const resolve = (operation: string) =>
      hooks!.didResolveOperation!({ operation: { operation } } as never) as Promise<void>;
    await expect(resolve('query')).resolves.toBeUndefined();
    await expect(resolve('subscription')).rejects.toMatchObject({
      extensions: { code: SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE, http: { status: 406 } },
    });
  });
});
