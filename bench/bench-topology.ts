/**
 * The deployed topology for a bench: every subgraph and our gateway in its own process (`startTopology`, compiled
 * bundles), on a fresh copy of the migrated database and the shared Redis and NATS under a prefix of this run.
 * The load generator is the bench process. BENCH_PROFILE_DIR=<dir> makes every process write a V8 CPU profile
 * there when it stops (node --cpu-prof).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { setCursorSecret } from '@insta/infra';
import { removeStreamsOf, testServices, uniquePrefix } from '@insta/infra/testing';
import {
  freePort,
  ManagedProcess,
  serviceCommand,
  startTopology,
  waitFor,
  type ServiceName,
  type Topology,
} from '@insta/topology';
import { startOtherGateway, type OtherGateway, type OtherGatewayProcess } from './other-gateways.ts';

export const SUBGRAPHS = ['users', 'posts', 'feed', 'social-graph', 'media'] as const;
const URL_VARIABLES = {
  users: 'USERS_URL',
  posts: 'POSTS_URL',
  feed: 'FEED_URL',
  'social-graph': 'SOCIAL_GRAPH_URL',
  media: 'MEDIA_URL',
} as const;

export interface BenchTopology {
  topology: Topology;
  database: TestDatabase;
  prefix: string;
  jwtSecret: string;
  signingSecret: string;
  /** The pid of each subgraph process, by name. */
  subgraphPids(): Record<string, number>;
  /** Another process of our gateway on the same subgraphs, with `env` added (e.g. ENTITY_CACHE=off). */
  /** `bundle`: another build's `gateway.mjs` instead of this checkout's (an A/B in one run). */
  startGateway(label: string, env: Record<string, string>, bundle?: string): Promise<{ url: string; pid: number }>;
  /** Stock Apollo gateway or Hive Gateway, in a process of its own, on the same subgraphs. */
  startOther(kind: OtherGateway, env?: Record<string, string>): Promise<OtherGatewayProcess>;
  stop(): Promise<void>;
}

const profileDir = process.env.BENCH_PROFILE_DIR;
const profileArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];

export async function startBenchTopology(options: {
  /** Environment of every process (LOG_LEVEL, feed settings, ...). */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
}): Promise<BenchTopology> {
  const prefix = uniquePrefix('bench').toLowerCase();
  const jwtSecret = randomBytes(32).toString('base64url');
  const signingSecret = randomBytes(32).toString('base64url');
  // Cursors the bench makes (a page past the timeline) must verify in the feed subgraph.
  setCursorSecret(signingSecret);
  const database = await createTestDatabase();
  const logDir = await mkdtemp(join(tmpdir(), `${prefix}-logs-`));
  // Stopped in reverse: the processes first, then their streams (each reserves up to NATS_STREAM_MAX_BYTES of the
  // shared server's storage until deleted), the logs and the database.
  const stops: (() => Promise<unknown>)[] = [
    () => database.drop(),
    () => removeStreamsOf(testServices.natsUrl, prefix),
    () => rm(logDir, { recursive: true, force: true }),
  ];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const topology = await startTopology({
      databaseUrl: database.url,
      redisUrl: testServices.redisUrl,
      natsUrl: testServices.natsUrl,
      prefix,
      logDir,
      env: {
        LOG_LEVEL: 'warn',
        // One load generator on one address is exactly what rate limits refuse.
        RATE_LIMITS: 'false',
        JWT_SECRET: jwtSecret,
        GATEWAY_SIGNING_SECRET: signingSecret,
        ...options.env,
      },
      serviceEnv: { gateway: options.gatewayEnv ?? {} },
      nodeArgs: profileArgs,
    });
    stops.push(() => topology.stop());
    const subgraphUrls = Object.fromEntries(SUBGRAPHS.map((name) => [name, topology.url(name)]));
    return {
      topology,
      database,
      prefix,
      jwtSecret,
      signingSecret,
      subgraphPids: () => Object.fromEntries(SUBGRAPHS.map((name) => [name, topology.instances(name)[0]!.pid!])),
      async startGateway(label, env, bundle) {
        const port = await freePort();
        const { command, args } = serviceCommand('gateway' satisfies ServiceName, 'dist', profileArgs);
        if (bundle) args[args.length - 1] = bundle;
        const gateway = new ManagedProcess({
          label,
          command,
          args,
          env: {
            ...topology.env,
            ...Object.fromEntries(SUBGRAPHS.map((name) => [URL_VARIABLES[name], topology.url(name)])),
            ...env,
            PORT: String(port),
          },
          logFile: join(logDir, `${label}.log`),
          ready: async () => {
            const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
            return res?.status === 200;
          },
        });
        await gateway.start();
        stops.push(() => gateway.stop());
        return { url: `http://127.0.0.1:${port}/graphql`, pid: gateway.pid! };
      },
      async startOther(kind, env = {}) {
        const other = await startOtherGateway(
          kind,
          {
            BENCH_SUBGRAPH_URLS: JSON.stringify(subgraphUrls),
            JWT_SECRET: jwtSecret,
            GATEWAY_SIGNING_SECRET: signingSecret,
            NODE_ENV: 'production',
            ...env,
          },
          profileArgs,
        );
        stops.push(() => other.stop());
        return other;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Waits until `url` answers `body` with 200 (a process that just said ready may still be warming a cache). */
export async function answersGraphQL(url: string, headers: Record<string, string>, body: string): Promise<string> {
  return waitFor(`${url} to answer`, async () => {
    const res = await fetch(url, { method: 'POST', headers, body }).catch(() => undefined);
    if (!res) return undefined;
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text.slice(0, 500)}`);
    return text;
  });
}
