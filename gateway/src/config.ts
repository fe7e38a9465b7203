import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_SHUTDOWN_GRACE_MS, env, loadConfig } from '@insta/infra';

/** The committed supergraph (`npm run compose` writes it). */
export const DEFAULT_SUPERGRAPH_PATH = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));

const subgraphUrl = (port: number) => env.url().default(`http://127.0.0.1:${port}/graphql`);

/**
 * What createGatewayServer needs. The process entry (index.ts) also validates REDIS_URL and NATS_URL, which only
 * a distributed gateway connects to (embedded mode injects in-process adapters).
 *
 * MAX_DEPTH counts leaf fields too, and every Relay connection costs two levels (edges, node): a realistic
 * `notifications { edges { node { post { comments { edges { node { author { username } } } } } } } } }` is 9.
 */
export const gatewayEnvSchema = z.object({
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().default('127.0.0.1'),
  PORT: env.port(4000),
  USERS_URL: subgraphUrl(4001),
  POSTS_URL: subgraphUrl(4002),
  FEED_URL: subgraphUrl(4003),
  SOCIAL_GRAPH_URL: subgraphUrl(4004),
  MEDIA_URL: subgraphUrl(4005),
  JWT_SECRET: env.secret(),
  GATEWAY_SIGNING_SECRET: env.secret(),
  SUPERGRAPH_PATH: z.string().default(DEFAULT_SUPERGRAPH_PATH),
  // Unset means "on outside production"; resolved in loadGatewayConfig because it depends on NODE_ENV.
  INTROSPECTION: z.enum(['true', 'false', '1', '0']).optional(),
  EXPLORER: z.enum(['true', 'false', '1', '0']).optional(),
  MAX_DEPTH: env.int(10, 1),
  MAX_ALIASES: env.int(15, 0),
  MAX_TOKENS: env.int(1000, 1),
  MAX_COST: env.int(5000, 1),
  /** The whole stop on SIGTERM; in-flight HTTP requests get all but the last 2 s of it (httpDrainMs). */
  SHUTDOWN_GRACE_MS: env.int(DEFAULT_SHUTDOWN_GRACE_MS, 0),
  /** graphql-ws: a socket that has not sent connection_init by then is closed with 4408. */
  WS_CONNECTION_INIT_TIMEOUT_MS: env.int(10_000, 1),
  /** Events waiting for one client subscription; one more ends it with SUBSCRIPTION_QUEUE_OVERFLOW (ADR 7). */
  SUBSCRIPTION_QUEUE_SIZE: env.int(100, 1),
});

export type GatewayConfig = Omit<z.output<typeof gatewayEnvSchema>, 'INTROSPECTION' | 'EXPLORER'> & {
  INTROSPECTION: boolean;
  EXPLORER: boolean;
};

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const { INTROSPECTION, EXPLORER, ...rest } = loadConfig(gatewayEnvSchema, source);
  const flag = (value: string | undefined) =>
    value === undefined ? rest.NODE_ENV !== 'production' : value === 'true' || value === '1';
  return { ...rest, INTROSPECTION: flag(INTROSPECTION), EXPLORER: flag(EXPLORER) };
}

/** Subgraph name (as in the supergraph) → URL the gateway sends to. */
export function subgraphUrls(config: GatewayConfig): Record<string, string> {
  return {
    users: config.USERS_URL,
    posts: config.POSTS_URL,
    feed: config.FEED_URL,
    'social-graph': config.SOCIAL_GRAPH_URL,
    media: config.MEDIA_URL,
  };
}
