import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { connectRedis } from '../kv/redis.ts';

/** Service URLs the integration tests use: the real Redis, NATS and Postgres of the machine (or of CI). */
export const testServices = {
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  natsUrl: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
};

/** A prefix no other test run uses, so parallel runs never share keys or streams. */
export const uniquePrefix = (name: string) => `t${randomBytes(4).toString('hex')}_${name}`;

export const silentLogger = pino({ level: 'silent' });

/** A logger that keeps what it logs (from `level` up), for tests that check retries or dead letters were logged. */
export function capturingLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'warn') {
  const entries: ({ msg: string; level: number } & Record<string, unknown>)[] = [];
  const logger = pino({ level }, { write: (line: string) => void entries.push(JSON.parse(line)) });
  return { logger, entries };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: {
    message: string;
    path?: (string | number)[];
    extensions?: { code?: string; field?: string; [k: string]: unknown };
  }[];
}

/** Posts a GraphQL operation; `headers` lets a test sign it like the gateway or send a bearer token. */
export async function postGraphQL<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: GraphQLResponse<T> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse<T> };
}

export const TEST_SECRETS = {
  JWT_SECRET: 'test-jwt-secret-test-jwt-secret-0123456789',
  GATEWAY_SIGNING_SECRET: 'test-signing-secret-test-signing-secret-01',
};
export * from './private-postgres.ts';

/**
 * Deletes every key under `prefix` (SCAN, not KEYS: the Redis is shared): what losing a deployment's Redis data
 * looks like to it, without touching anyone else's keys.
 */
export async function deleteKeysByPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = await connectRedis(redisUrl);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
export * from './private-servers.ts';
export * from './tcp-proxy.ts';
export * from './metrics.ts';
export * from './tracing.ts';
