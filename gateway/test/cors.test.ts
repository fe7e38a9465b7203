import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { corsPolicy } from '../src/http/cors.ts';
import { startTestGateway, type TestGateway } from './helpers.ts';

const preflight = (t: TestGateway, origin: string, headers = 'content-type, authorization') =>
  fetch(t.gateway.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  });

const post = (t: TestGateway, origin: string | null, query: string) =>
  fetch(t.gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
    body: JSON.stringify({ query }),
  });

const touches = async (t: TestGateway) => (await t.post({ query: '{ touches }' })).body.data?.touches;

/** Opens a graphql-ws socket with an Origin header: 'open', or the HTTP status the upgrade was refused with. */
const upgrade = (t: TestGateway, origin: string | undefined) =>
  new Promise<'open' | number>((resolve, reject) => {
    const socket = new WebSocket(
      t.gateway.url.replace(/^http/, 'ws'),
      'graphql-transport-ws',
      origin ? { origin } : {},
    );
    socket.on('open', () => {
      socket.close();
      resolve('open');
    });
    socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.on('error', reject);
  });

describe('CORS outside production (loopback dev servers by default)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(() => t.close());

  it('should answer a preflight from a local dev server with 204 and what may be sent', async () => {
    const response = await preflight(t, 'http://localhost:5173');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(response.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toMatch(/Origin/);
  });

  it('should let a page on an allowed origin read the answer and the rate-limit headers', async () => {
    const response = await post(t, 'http://127.0.0.1:3000', '{ seen { userId } }');
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3000');
    expect(response.headers.get('access-control-expose-headers')).toMatch(/ratelimit-policy/);
    expect(response.headers.get('vary')).toMatch(/Origin/);
  });

  it('should refuse a preflight from a foreign origin', async () => {
    const response = await preflight(t, 'https://evil.example');
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('should refuse a request from a foreign origin without running it', async () => {
    const before = await touches(t);
    const response = await post(t, 'https://evil.example', 'mutation { touch }');
    expect(response.status).toBe(403);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe(
      'FORBIDDEN',
    );
    expect(await touches(t)).toBe(before);
  });

  it('should serve clients that send no Origin (servers, mobile apps, curl)', async () => {
    expect((await post(t, null, '{ seen { userId } }')).status).toBe(200);
  });

  it('should refuse a browser socket from a foreign origin with 403 on upgrade', async () => {
    expect(await upgrade(t, 'https://evil.example')).toBe(403);
    expect(await upgrade(t, 'http://localhost:5173')).toBe('open');
    expect(await upgrade(t, undefined)).toBe('open');
  });
});

describe('CORS in production', () => {
  it('should allow no cross origin by default, but the gateway its own (the explorer)', async () => {
    const t = await startTestGateway({ NODE_ENV: 'production' });
    try {
      expect((await preflight(t, 'http://localhost:5173')).status).toBe(403);
      expect((await post(t, 'http://localhost:5173', '{ seen { userId } }')).status).toBe(403);
      expect(await upgrade(t, 'http://localhost:5173')).toBe(403);
      const own = new URL(t.gateway.url).origin;
      expect((await post(t, own, '{ seen { userId } }')).status).toBe(200);
      expect(await upgrade(t, own)).toBe('open');
    } finally {
      await t.close();
    }
  });

  it('should allow the configured origins only, with credentials when asked', async () => {
    const t = await startTestGateway({
      NODE_ENV: 'production',
      CORS_ORIGINS: 'https://app.example.com, https://admin.example.com',
      CORS_ALLOW_CREDENTIALS: 'true',
    });
    try {
      const allowed = await preflight(t, 'https://admin.example.com');
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
      expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
      expect((await preflight(t, 'https://app.example.com.evil.example')).status).toBe(403);
      expect((await preflight(t, 'http://app.example.com')).status).toBe(403);
      expect(await upgrade(t, 'https://app.example.com')).toBe('open');
    } finally {
      await t.close();
    }
  });
});

describe('corsPolicy', () => {
  it('should answer any origin with * when configured so', () => {
    const policy = corsPolicy({ NODE_ENV: 'production', CORS_ORIGINS: ['*'], CORS_ALLOW_CREDENTIALS: false });
    expect(policy.allows('https://anywhere.example', {})).toBe(true);
  });

  it('should refuse credentials with any origin', () => {
    expect(() => corsPolicy({ NODE_ENV: 'production', CORS_ORIGINS: ['*'], CORS_ALLOW_CREDENTIALS: true })).toThrow(
      /CORS_ALLOW_CREDENTIALS/,
    );
  });

  it('should not take an origin of "null" (sandboxed frames, files) for an allowed one', () => {
    const policy = corsPolicy({ NODE_ENV: 'development', CORS_ORIGINS: undefined, CORS_ALLOW_CREDENTIALS: false });
    expect(policy.allows('null', {})).toBe(false);
    expect(policy.allows('http://localhost:8080', {})).toBe(true);
    expect(policy.allows('http://localhost.evil.example', {})).toBe(false);
  });
});
