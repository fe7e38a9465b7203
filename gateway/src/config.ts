import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_SHUTDOWN_GRACE_MS, env, loadConfig } from '@insta/infra';
import { trustedDocumentsEnv } from './documents/trusted-documents.ts';
import { clientIpEnv } from './http/client-ip.ts';
import { corsEnv } from './http/cors.ts';
import { rateLimitEnv } from './limits/rate-limit.ts';
import { realtimeEdgeEnv } from './edge/realtime-limits.ts';
import { DEFAULT_WEB_APP_DIR } from './web-app.ts';

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
  /** Prometheus `GET /metrics` on a listener of its own (HOST, this port); unset: not served (ADR 14). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  USERS_URL: subgraphUrl(4001),
  POSTS_URL: subgraphUrl(4002),
  FEED_URL: subgraphUrl(4003),
  SOCIAL_GRAPH_URL: subgraphUrl(4004),
  MEDIA_URL: subgraphUrl(4005),
  JWT_SECRET: env.secret(),
  GATEWAY_SIGNING_SECRET: env.secret(),
  SUPERGRAPH_PATH: z.string().default(DEFAULT_SUPERGRAPH_PATH),
  /** The built web client served at /app when it exists (empty: none). */
  WEB_APP_DIR: z.string().default(DEFAULT_WEB_APP_DIR),
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
  ...realtimeEdgeEnv,
  ...rateLimitEnv,
  ...clientIpEnv,
  ...corsEnv,
  ...trustedDocumentsEnv,
  /** Per-attempt timeout of a subgraph fetch; SUBGRAPH_TIMEOUTS overrides it per subgraph (ADR 10). */
  SUBGRAPH_TIMEOUT_MS: env.int(10_000, 1),
  /** `name=ms` pairs, comma-separated: `media=15000,feed=8000`. */
  SUBGRAPH_TIMEOUTS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const timeouts: Record<string, number> = {};
      for (const pair of value
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const match = /^([a-z-]+)=(\d+)$/.exec(pair);
        if (!match?.[1] || !match[2] || Number(match[2]) < 1) {
          ctx.addIssue({ code: 'custom', message: `"${pair}" is not name=milliseconds` });
          return z.NEVER;
        }
        timeouts[match[1]] = Number(match[2]);
      }
      return timeouts;
    }),
  /** Extra attempts of a subgraph query (or `_entities` fetch) that failed transiently; mutations never retry. */
  SUBGRAPH_RETRIES: env.int(1, 0),
  BREAKER_THRESHOLD: env.int(5, 1),
  BREAKER_HALF_OPEN_AFTER_MS: env.int(5_000, 100),
  /** How often the gateway copies new session revocations from the users subgraph (ADR 10). */
  REVOCATION_SYNC_INTERVAL_MS: env.int(5_000, 100),
  /**
   * How old that copy may get while Redis's revocation markers are not known to be complete; past it,
   * authenticated requests answer SERVICE_UNAVAILABLE instead of risking a signed-out session.
   */
  REVOCATION_MAX_STALENESS_MS: env.int(30_000, 1_000),
  /**
   * The entity cache of `_entities` fetches (ADR 17). Unset: on, except under NODE_ENV=test (the suites that
   * test it turn it on), so every other test reads the subgraphs as they are.
   */
  ENTITY_CACHE: z.enum(['on', 'off']).optional(),
  /** Caps the TTL of every cached type (the policy's own TTLs are 60-300 s). */
  ENTITY_CACHE_MAX_TTL_MS: env.int(300_000, 1),
  /** Entries held in each gateway process (L1); Redis (L2) holds what expiry leaves. */
  ENTITY_CACHE_L1_ENTRIES: env.int(50_000, 1),
  /** How long a gateway trusts the invalidation generations it read from Redis: others' bumps reach it by then. */
  ENTITY_CACHE_GENERATION_TTL_MS: env.int(1_000, 1),
  /** A Redis call of the cache slower than this bypasses the cache for that fetch (and Redis for 1 s). */
  ENTITY_CACHE_REDIS_TIMEOUT_MS: env.int(100, 1),
  /** In-flight deduplication of identical subgraph reads (same subgraph, body and identity). */
  SUBGRAPH_DEDUPE: z.enum(['on', 'off']).default('on'),
  /**
   * The single-fetch fast path (ADR 19): a query planned as one fetch that is the client's operation itself is
   * answered with the subgraph's data as it came, without Apollo Gateway's per-request result shaping. Off by
   * default: no measurable gain in the one-hop bench on a quiet box (ADR 19, cut 6).
   */
  SINGLE_FETCH_FAST_PATH: z.enum(['on', 'off']).default('off'),
});

export type GatewayConfig = Omit<z.output<typeof gatewayEnvSchema>, 'INTROSPECTION' | 'EXPLORER' | 'ENTITY_CACHE'> & {
  INTROSPECTION: boolean;
  EXPLORER: boolean;
  ENTITY_CACHE: boolean;
};

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const { INTROSPECTION, EXPLORER, ENTITY_CACHE, ...rest } = loadConfig(gatewayEnvSchema, source);
  const flag = (value: string | undefined) =>
    value === undefined ? rest.NODE_ENV !== 'production' : value === 'true' || value === '1';
  return {
    ...rest,
    INTROSPECTION: flag(INTROSPECTION),
    EXPLORER: flag(EXPLORER),
    ENTITY_CACHE: ENTITY_CACHE === undefined ? rest.NODE_ENV !== 'test' : ENTITY_CACHE === 'on',
  };
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
