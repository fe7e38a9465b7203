import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import { SignJWT } from 'jose';
import {
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  MemoryEventBus,
  MemoryKeyValueStore,
  TransientError,
  createLogger,
  startSubgraphServer,
  type EventBus,
  type Identity,
  type KeyValueStore,
  type RunningServer,
} from '@insta/infra';
import { waitFor } from '@insta/topology';
import { composeSupergraph } from '../src/compose.ts';
import { loadGatewayConfig, type GatewayConfig } from '../src/config.ts';
import { createGatewayServer, type GatewayServer } from '../src/server.ts';

export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';
export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef012345';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}.graphql`, import.meta.url), 'utf8');
export const fixtureSdls = () => ({ users: fixture('users'), posts: fixture('posts') });

const logger = createLogger('gateway-test', 'silent');

/**
 * What a test controls of the fixture users subgraph: the sessions it reports as revoked (its "Postgres"), `down`
 * to make that fail like an outage, and `slow`, which the `slow` query waits for.
 */
export interface FixtureRevocations {
  sessions: Map<string, number>;
  down: boolean;
  slow: Promise<void>;
}

/** A tiny "users" subgraph behind the real gateway-signature check; it reports what it received. */
async function startUsersSubgraph(revocations: FixtureRevocations): Promise<RunningServer> {
  const user = (id: string) => ({ id, username: `user${id}` });
  let touches = 0;
  const schema = buildSubgraphSchema({
    typeDefs: parse(fixtureSdls().users),
    resolvers: {
      Query: {
        seen: (_: unknown, __: unknown, context: unknown) => {
          const { identity, headers } = context as SubgraphContext;
          return { userId: identity?.userId ?? null, sessionId: identity?.sessionId ?? null, headers };
        },
        user: (_: unknown, { id }: { id: string }) => user(id),
        touches: () => touches,
        fail: (_: unknown, { code }: { code: string }) => {
          throw new GraphQLError(`failed with ${code}`, { extensions: { code } });
        },
        failNonNull: (_: unknown, { code }: { code: string }) => {
          throw new GraphQLError(`failed with ${code}`, { extensions: { code } });
        },
        slow: () => revocations.slow.then(() => true),
        sessionRevocations: () => {
          if (revocations.down) throw new TransientError('users database is down');
          return {
            asOf: new Date().toISOString(),
            sessions: [...revocations.sessions].map(([sessionId, expiresAt]) => ({
              sessionId,
              expiresAt: new Date(expiresAt).toISOString(),
            })),
          };
        },
      },
      Seen: {
        header: (seen: { headers: SubgraphContext['headers'] }, { name }: { name: string }) => {
          const value = seen.headers[name.toLowerCase()];
          return Array.isArray(value) ? value.join(', ') : (value ?? null);
        },
      },
      User: {
        friends: (parent: { id: string }, { first }: { first?: number }) =>
          Array.from({ length: Math.min(first ?? 2, 3) }, (_, i) => user(`${parent.id}${i}`)),
      },
      Mutation: { touch: () => ++touches > 0 },
    },
  });
  return startSubgraphServer<SubgraphContext>({
    name: 'users',
    schema,
    host: '127.0.0.1',
    port: 0,
    signingSecret: SIGNING_SECRET,
    maxSkewSeconds: 60,
    production: false,
    logger,
    readiness: {},
    context: ({ identity, req }) => ({ identity, headers: req.headers }),
  });
}

interface SubgraphContext {
  identity: Identity | null;
  headers: NodeJS.Dict<string | string[]>;
}

export interface TestGateway {
  gateway: GatewayServer;
  kv: KeyValueStore;
  /** The gateway's bus (in-process): a test publishes the users subgraph's events on it. */
  bus: EventBus;
  /** What the users subgraph has durably revoked. */
  revocations: FixtureRevocations;
  config: GatewayConfig;
  /** POST a GraphQL operation; returns status and parsed body. */
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: GraphQLBody }>;
  close(): Promise<void>;
}

export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export interface TestGatewayOptions {
  /** The store for revocation markers (an in-process one by default). */
  kv?: KeyValueStore;
  /** Also compose the fixture posts subgraph, served at this URL (nothing need answer there). */
  postsUrl?: string;
}

/** Real gateway on a free port, in front of the tiny users subgraph, with a composed fixture supergraph. */
export async function startTestGateway(
  env: Record<string, string> = {},
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const revocations: FixtureRevocations = { sessions: new Map(), down: false, slow: Promise.resolve() };
  const users = await startUsersSubgraph(revocations);
  const dir = await mkdtemp(join(tmpdir(), 'gateway-test-'));
  const composed = composeSupergraph([
    { name: 'users', url: 'http://users:4001/graphql', sdl: fixtureSdls().users },
    ...(options.postsUrl ? [{ name: 'posts', url: 'http://posts:4002/graphql', sdl: fixtureSdls().posts }] : []),
  ]);
  if (!composed.ok) throw new Error(composed.errors.join('\n'));
  const supergraphPath = join(dir, 'supergraph.graphql');
  await writeFile(supergraphPath, composed.supergraphSdl);

  const config = loadGatewayConfig({
    NODE_ENV: 'test',
    PORT: '0',
    JWT_SECRET,
    GATEWAY_SIGNING_SECRET: SIGNING_SECRET,
    USERS_URL: users.url,
    ...(options.postsUrl ? { POSTS_URL: options.postsUrl } : {}),
    SUPERGRAPH_PATH: supergraphPath,
    EXPLORER: 'false',
    ...env,
  });
  const kv = options.kv ?? new MemoryKeyValueStore('gateway-test:');
  const bus = new MemoryEventBus('gateway-test', logger);
  const gateway = await createGatewayServer({ config, kv, bus, logger });

  return {
    gateway,
    kv,
    bus,
    revocations,
    config,
    async post(body, headers = {}) {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as GraphQLBody };
    },
    async close() {
      await gateway.stop();
      await bus.close();
      await users.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function accessToken(identity: Identity, options: { secret?: string; expiresAt?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: identity.sessionId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(identity.userId)
    .setIssuer(ACCESS_TOKEN_ISSUER)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt(now - 120)
    .setExpirationTime(options.expiresAt ?? now + 300)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** Polls a condition (each try may be a real read) every 50 ms for up to 15 s. */
export const until = (condition: () => boolean | Promise<boolean>) =>
  waitFor('the condition', async () => ((await condition()) ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
