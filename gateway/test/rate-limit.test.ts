import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRedis, createLogger, RedisKeyValueStore, TransientError } from '@insta/infra';
import { uniquePrefix } from '@insta/infra/testing';
import { RateLimiter } from '../src/limits/rate-limit.ts';
import { loadGatewayConfig } from '../src/config.ts';
import {
  accessToken,
  JWT_SECRET,
  SIGNING_SECRET,
  startTestGateway,
  type GraphQLBody,
  type TestGateway,
} from './helpers.ts';
import { runOnce, wsClient } from './ws-client.ts';

interface Reply {
  status: number;
  headers: Headers;
  body: GraphQLBody & { errors?: { extensions?: { code?: string; retryAfterSeconds?: number } }[] };
}

const send = async (t: TestGateway, query: string, headers: Record<string, string> = {}): Promise<Reply> => {
  const response = await fetch(t.gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Reply['body'] };
};

const codes = (reply: Reply) => reply.body.errors?.map((e) => e.extensions?.code);

describe('rate limits at the gateway', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ RATE_LIMIT_READ: '3/600', RATE_LIMIT_WRITE: '2/600' });
  });
  afterAll(() => t.close());

  it('should answer reads with the RateLimit headers until the bucket is empty, then 429 RATE_LIMITED', async () => {
    const token = await accessToken({ userId: 'u-reader', sessionId: 's-reader' });
    const auth = { authorization: `Bearer ${token}` };
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await send(t, '{ seen { userId } }', auth));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(replies[0]?.headers.get('ratelimit-policy')).toBe('"read";q=3;w=600');
    expect(replies.map((r) => r.headers.get('ratelimit')?.split(';').slice(0, 2).join(';'))).toEqual([
      '"read";r=2',
      '"read";r=1',
      '"read";r=0',
      '"read";r=0',
    ]);
    const refused = replies[3]!;
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.body.data).toBeUndefined();
    // One token per 200 s.
    const retryAfter = refused.body.errors?.[0]?.extensions?.retryAfterSeconds;
    expect(retryAfter).toBeGreaterThan(190);
    expect(retryAfter).toBeLessThanOrEqual(200);
    expect(refused.headers.get('retry-after')).toBe(String(retryAfter));
  });

  it('should keep a bucket per signed-in user and one per address for anonymous requests', async () => {
    const other = await accessToken({ userId: 'u-other', sessionId: 's-other' });
    expect((await send(t, '{ seen { userId } }', { authorization: `Bearer ${other}` })).status).toBe(200);
    expect((await send(t, '{ seen { userId } }')).status).toBe(200);
  });

  it('should take a token per root field, so aliases do not multiply the budget', async () => {
    const token = await accessToken({ userId: 'u-aliases', sessionId: 's-aliases' });
    const auth = { authorization: `Bearer ${token}` };
    const two = '{ a: seen { userId } b: touches }';
    const first = await send(t, two, auth);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit')).toMatch(/^"read";r=1;/);
    expect(codes(await send(t, two, auth))).toEqual(['RATE_LIMITED']);
    expect((await send(t, '{ touches }', auth)).status).toBe(200);
  });

  it('should refuse writes over their own limit without running them', async () => {
    const token = await accessToken({ userId: 'u-writer', sessionId: 's-writer' });
    const auth = { authorization: `Bearer ${token}` };
    const reader = { authorization: `Bearer ${await accessToken({ userId: 'u-counter', sessionId: 's-counter' })}` };
    const before = (await send(t, '{ touches }', reader)).body.data?.touches as number;
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await send(t, 'mutation { touch }', auth));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(replies[2]?.headers.get('ratelimit-policy')).toBe('"write";q=2;w=600');
    expect((await send(t, '{ touches }', reader)).body.data?.touches).toBe(before + 2);
  });

  it('should limit queries sent over a websocket with the same buckets', async () => {
    const token = await accessToken({ userId: 'u-socket', sessionId: 's-socket' });
    const { client } = wsClient(t.gateway.url, { authorization: `Bearer ${token}` });
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await runOnce(client, '{ seen { userId } }'));
    await client.dispose();
    expect(outcomes.slice(0, 3).map((o) => o.results[0]?.errors)).toEqual([undefined, undefined, undefined]);
    expect(outcomes[3]?.results[0]?.errors?.map((e) => (e.extensions as { code?: string }).code)).toEqual([
      'RATE_LIMITED',
    ]);
  });

  it('should run reads and answer writes 503 SERVICE_UNAVAILABLE with Retry-After while the store fails', async () => {
    const take = vi.spyOn(t.kv, 'takeTokens').mockRejectedValue(new TransientError('Connection is closed.'));
    try {
      const reader = { authorization: `Bearer ${await accessToken({ userId: 'u-down', sessionId: 's-down' })}` };
      const read = await send(t, '{ touches }', reader);
      expect(read.status).toBe(200);
      expect(read.headers.get('ratelimit')).toBeNull();
      const before = read.body.data?.touches;
      const write = await send(t, 'mutation { touch }', reader);
      expect(write.status).toBe(503);
      expect(write.headers.get('retry-after')).toBe('5');
      expect(write.body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 });
      expect((await send(t, '{ touches }', reader)).body.data?.touches).toBe(before);
    } finally {
      take.mockRestore();
    }
  });

  it('should tell the subgraphs the client address, not one the client claims', async () => {
    const reply = await send(t, '{ seen { header(name: "x-client-ip") } }', { 'x-client-ip': '198.51.100.1' });
    expect(reply.body.data).toEqual({ seen: { header: '127.0.0.1' } });
  });
});

describe('rate limits behind trusted proxies', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ RATE_LIMIT_READ: '1/600', TRUSTED_PROXIES: '127.0.0.1' });
  });
  afterAll(() => t.close());

  it('should keep a bucket per forwarded client address when the peer is a trusted proxy', async () => {
    const a = { 'x-forwarded-for': '203.0.113.5' };
    const b = { 'x-forwarded-for': '203.0.113.6' };
    expect((await send(t, '{ seen { userId } }', a)).status).toBe(200);
    expect((await send(t, '{ seen { userId } }', a)).status).toBe(429);
    expect((await send(t, '{ seen { userId } }', b)).status).toBe(200);
  });

  it('should ignore addresses a client put in front of the proxy', async () => {
    const spoofed = { 'x-forwarded-for': '198.51.100.7, 203.0.113.5' };
    expect((await send(t, '{ seen { userId } }', spoofed)).status).toBe(429);
  });
});

describe('rate limits when the store is down', () => {
  let redis: ChildProcess;
  let limiter: RateLimiter;
  let store: RedisKeyValueStore;
  let redisClient: Awaited<ReturnType<typeof connectRedis>>;
  let warn: ReturnType<typeof vi.spyOn>;
  const client = { ip: '192.0.2.1' };

  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });

  const accepts = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve();
      }).on('error', reject);
    });

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await vi.waitFor(() => accepts(port), { timeout: 10_000, interval: 50 });
    redisClient = await connectRedis(`redis://127.0.0.1:${port}`);
    // The client reconnects for ever; its connection errors are what this test is about.
    redisClient.on('error', () => {});
    store = new RedisKeyValueStore(redisClient, uniquePrefix('rl:'));
    const config = loadGatewayConfig({ JWT_SECRET, GATEWAY_SIGNING_SECRET: SIGNING_SECRET });
    const logger = createLogger('rate-limit-test', 'silent');
    warn = vi.spyOn(logger, 'warn');
    limiter = new RateLimiter(store, config, logger);
    expect(await limiter.take('read', null, client)).toMatchObject({ result: { allowed: true } });
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    redis.kill('SIGKILL');
    await exited;
  });
  afterAll(() => {
    redisClient.disconnect();
    if (redis.exitCode === null) redis.kill('SIGKILL');
  });

  it('should let reads and searches through', async () => {
    expect(await limiter.take('read', null, client)).toBeNull();
    expect(await limiter.take('search', null, client)).toBeNull();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ class: 'read' }),
      expect.stringMatching(/letting the read through/),
    );
  });

  it('should refuse auth, writes and uploads with SERVICE_UNAVAILABLE and a retry delay', async () => {
    const outcomes = await Promise.allSettled(
      (['auth', 'write', 'upload'] as const).map((operationClass) => limiter.take(operationClass, null, client)),
    );
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({
        status: 'rejected',
        reason: { extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 } },
      });
    }
  });
});
