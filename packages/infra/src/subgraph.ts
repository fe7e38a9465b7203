import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type GraphQLSchema } from 'graphql';
import type { EventBus } from './bus/bus.ts';
import type { SubgraphEnv } from './config.ts';
import type { ReadinessChecks, SubgraphServerOptions } from './graphql-server.ts';
import type { KeyValueStore } from './kv/kv.ts';
import type { Logger } from './logger.ts';
import { httpDrainMs } from './shutdown.ts';

export const SUBGRAPH_NAMES = ['users', 'posts', 'feed', 'social-graph', 'media'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/** schema/<name>.graphql, the one place a subgraph's SDL lives. */
export const sdlPath = (name: SubgraphName) =>
  fileURLToPath(new URL(`../../../schema/${name}.graphql`, import.meta.url));

/** Builds a subgraph schema from its SDL file and generated-type-checked resolvers. */
export function subgraphSchema(name: SubgraphName, resolvers: object): GraphQLSchema {
  const typeDefs = parse(readFileSync(sdlPath(name), 'utf8'));
  return buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> });
}

/** What every subgraph process is handed: its config, a database client, the KV and event-bus ports. */
export interface SubgraphDeps<TConfig extends SubgraphEnv, TDb> {
  config: TConfig;
  db: TDb;
  kv: KeyValueStore;
  bus: EventBus;
  logger: Logger;
}

/** The server options every subgraph shares; each adds its schema, context and extra readiness checks. */
export function commonServerOptions(
  name: SubgraphName,
  deps: SubgraphDeps<SubgraphEnv & { PORT: number }, { $queryRawUnsafe(sql: string): Promise<unknown> }>,
  extraChecks: ReadinessChecks = {},
): Omit<SubgraphServerOptions<never>, 'schema' | 'context'> {
  const { config, db, kv, bus, logger } = deps;
  return {
    name,
    host: config.HOST,
    port: config.PORT,
    signingSecret: config.GATEWAY_SIGNING_SECRET,
    maxSkewSeconds: config.IDENTITY_MAX_SKEW_SECONDS,
    production: config.NODE_ENV === 'production',
    drainMs: httpDrainMs(config.SHUTDOWN_GRACE_MS),
    logger,
    readiness: {
      postgres: async () => void (await db.$queryRawUnsafe('SELECT 1')),
      redis: () => kv.ping(),
      nats: () => bus.ping(),
      ...extraChecks,
    },
  };
}
