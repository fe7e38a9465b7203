import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from 'graphql-ws';
import WebSocket from 'ws';
import { revokedSessionKey } from '@insta/infra';
import { accessToken, startTestGateway, type TestGateway } from './helpers.ts';
import { runOnce, wsClient } from './ws-client.ts';

const errorCodes = (error: unknown) => (error as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code);

describe('graphql-ws on the gateway', () => {
  let t: TestGateway;
  const clients: { dispose(): void | Promise<void> }[] = [];
  const connect = (params?: Record<string, unknown>) => {
    const c = wsClient(t.gateway.url, params);
    clients.push(c.client);
    return c;
  };
  beforeAll(async () => {
    t = await startTestGateway({
      MAX_DEPTH: '5',
      MAX_ALIASES: '3',
      MAX_TOKENS: '200',
      MAX_COST: '500',
      WS_CONNECTION_INIT_TIMEOUT_MS: '300',
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await t.close();
  });

  it('should run a query over the socket through Apollo with the identity of connectionParams', async () => {
    const token = await accessToken({ userId: 'u-ws', sessionId: 's-ws' });
    const { client } = connect({ authorization: `Bearer ${token}` });
    const outcome = await runOnce(client, '{ seen { userId sessionId } }');
    expect(outcome).toEqual({ results: [{ data: { seen: { userId: 'u-ws', sessionId: 's-ws' } } }] });
  });

  it('should run operations anonymously on a connection without a token', async () => {
    const { client } = connect();
    expect(await runOnce(client, '{ seen { userId } }')).toEqual({ results: [{ data: { seen: { userId: null } } }] });
  });

  it('should close the socket with 4403 Forbidden and the reason when the token is invalid', async () => {
    const token = await accessToken(
      { userId: 'u1', sessionId: 's1' },
      { secret: 'another-secret-0123456789abcdef0123' },
    );
    const { client, closes } = connect({ authorization: `Bearer ${token}` });
    const outcome = await runOnce(client, '{ seen { userId } }');
    expect(outcome.results).toEqual([]);
    expect(closes).toEqual([{ code: CloseCode.Forbidden, reason: 'The access token is invalid' }]);
  });

  it('should close the socket with 4403 Forbidden when the session was signed out', async () => {
    await t.kv.set(revokedSessionKey('s-revoked'), '1', 60_000);
    const token = await accessToken({ userId: 'u1', sessionId: 's-revoked' });
    const { client, closes } = connect({ authorization: `Bearer ${token}` });
    await runOnce(client, '{ seen { userId } }');
    expect(closes).toEqual([{ code: CloseCode.Forbidden, reason: 'The session has been signed out' }]);
  });

  it('should close a socket that sends no connection_init in time with 4408', async () => {
    const socket = new WebSocket(t.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    expect(closed).toEqual({
      code: CloseCode.ConnectionInitialisationTimeout,
      reason: 'Connection initialisation timeout',
    });
  });

  it.each([
    [
      'depth',
      '{ user(id: "1") { friends { friends { friends { friends { friends { id } } } } } } }',
      /depth limit of 5/,
    ],
    [
      'aliases',
      '{ a: seen { userId } b: seen { userId } c: seen { userId } d: seen { userId } }',
      /Aliases limit of 3/,
    ],
    ['tokens', `{ ${Array.from({ length: 250 }, () => '__typename').join(' ')} }`, /Token limit of 200/],
    ['cost', '{ user(id: "1") { friends(first: 100) { friends(first: 100) { id } } } }', /Cost limit of 500/],
  ])('should refuse an operation over the %s limit with OPERATION_LIMIT_EXCEEDED', async (_limit, query, message) => {
    const { client } = connect();
    const outcome = await runOnce(client, query);
    expect(outcome.results).toEqual([]);
    expect(errorCodes(outcome.error)).toEqual(['OPERATION_LIMIT_EXCEEDED']);
    expect((outcome.error as { message: string }[])[0]?.message).toMatch(message);
  });

  it('should refuse an invalid operation with GRAPHQL_VALIDATION_FAILED', async () => {
    const { client } = connect();
    const outcome = await runOnce(client, '{ nothing }');
    expect(errorCodes(outcome.error)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('should refuse a subscription when the supergraph has no Subscription type', async () => {
    const { client } = connect();
    const outcome = await runOnce(client, 'subscription { nothing }');
    expect(errorCodes(outcome.error)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('should leave "Did you mean" suggestions out of validation errors in production', async () => {
    const production = await startTestGateway({ NODE_ENV: 'production' });
    const c = wsClient(production.gateway.url);
    clients.push(c.client);
    const outcome = await runOnce(c.client, '{ sen { userId } }');
    await c.client.dispose();
    await production.close();
    expect(outcome.error).toEqual([
      expect.objectContaining({
        message: 'Cannot query field "sen" on type "Query".',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      }),
    ]);
  });

  it('should refuse a syntax error with GRAPHQL_PARSE_FAILED', async () => {
    const { client } = connect();
    const outcome = await runOnce(client, '{ seen ');
    expect(errorCodes(outcome.error)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('should answer a plain HTTP request on the same path as before', async () => {
    const { status, body } = await t.post({ query: '{ seen { userId } }' });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { seen: { userId: null } } });
  });

  it('should close open sockets with 1001 Going Away when the gateway stops', async () => {
    const other = await startTestGateway();
    const socket = new WebSocket(other.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise((resolve) => socket.on('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    expect(JSON.parse(String(await new Promise((resolve) => socket.once('message', resolve))))).toEqual({
      type: 'connection_ack',
    });
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await other.close();
    expect(await closed).toBe(1001);
  });
});
