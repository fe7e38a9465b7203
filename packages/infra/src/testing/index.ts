import { randomBytes } from 'node:crypto';
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { IDENTITY_HEADER, requestPath, signIdentity, type Principal } from '../identity.ts';
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

/**
 * Posts a GraphQL operation signed as the gateway (a user or anonymous) or a service would sign it: for the
 * subgraph named `audience`, over this exact body (and `x-client-ip` when `headers` has it).
 */
export function postSignedGraphQL<T = Record<string, unknown>>(
  url: string,
  signer: { audience: string; principal: Principal; secret?: string },
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: GraphQLResponse<T> }> {
  const body = JSON.stringify({ query, variables });
  const secret = signer.secret ?? TEST_SECRETS.GATEWAY_SIGNING_SECRET;
  const clientIp = Object.entries(headers).find(([name]) => name.toLowerCase() === 'x-client-ip')?.[1];
  const signature = signIdentity(secret, signer.principal, {
    audience: signer.audience,
    path: requestPath(url),
    body,
    clientIp,
  });
  return postGraphQL<T>(url, query, variables, { ...headers, [IDENTITY_HEADER]: signature });
}

/** How a test calls internal (`@inaccessible`) fields: as another subgraph would. */
export const TEST_SERVICE = { service: 'test' } as const;

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

/** Deletes the streams on the NATS server whose info `doomed` picks; returns how many were deleted. */
async function removeStreams(natsUrl: string, doomed: (stream: StreamInfo) => boolean): Promise<number> {
  const nc = await connect({ servers: natsUrl, name: 'stream-janitor' });
  try {
    const jsm = await jetstreamManager(nc);
    let removed = 0;
    for await (const stream of jsm.streams.list()) {
      if (doomed(stream) && (await jsm.streams.delete(stream.config.name).catch(() => false))) removed++;
    }
    return removed;
  } finally {
    await nc.close();
  }
}

/**
 * Deletes every stream of one deployment (named `<prefix>_NAME`, as the NATS bus names them), for runs that make
 * large streams and know when they are done (benches: each stream reserves its `max_bytes` on the server).
 * Returns how many were deleted.
 */
export function removeStreamsOf(natsUrl: string, prefix: string): Promise<number> {
  const own = `${prefix}_`.replace(/[^A-Za-z0-9_-]/g, '_');
  return removeStreams(natsUrl, (stream) => stream.config.name.startsWith(own));
}

/**
 * Deletes the streams test runs left on the shared JetStream server (named `uniquePrefix(...)_NAME`) that are older
 * than `olderThanMs`: tests do not delete their streams one by one, and each reserves storage on the server. Runs
 * still going (younger streams) are left alone. Returns how many were deleted.
 */
export function removeStaleTestStreams(natsUrl: string, olderThanMs = 3_600_000): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  return removeStreams(
    natsUrl,
    (stream) => /^t[0-9a-f]{8}_/.test(stream.config.name) && Date.parse(stream.created) <= cutoff,
  );
}
