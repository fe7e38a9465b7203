import { connectionsEnvSchema, loadConfig, type ConnectionsEnv, type SubgraphEnv } from './config.ts';
import type { RunningServer } from './graphql-server.ts';
import { createLogger } from './logger.ts';
import { registerPgPool, type PgPoolStats } from './metrics/registry.ts';
import { connectSharedServices } from './services.ts';
import { onShutdown, runMain } from './shutdown.ts';
import type { SubgraphDeps, SubgraphName } from './subgraph.ts';
import { startTracing } from './tracing/tracing.ts';

/**
 * The whole of a subgraph's `index.ts` in distributed mode: load config, connect Postgres, Redis and NATS,
 * start, drain on SIGTERM, exit(1) on a failed start.
 */
export function runSubgraphProcess<TConfig extends SubgraphEnv, TDb extends { $disconnect(): Promise<void> }>(options: {
  name: SubgraphName;
  loadConfig: () => TConfig;
  /** `onPool` reports the client's Postgres pool as this process's (pg_pool_* metrics). */
  connectDb: (connections: ConnectionsEnv, onPool: (pool: PgPoolStats) => void) => TDb;
  start: (deps: SubgraphDeps<TConfig, TDb>) => Promise<RunningServer>;
}): void {
  runMain(async () => {
    const config = options.loadConfig();
    const connections = loadConfig(connectionsEnvSchema);
    const logger = createLogger(options.name, config.LOG_LEVEL);
    const tracing = startTracing(options.name);
    const db = options.connectDb(connections, (pool) => registerPgPool(options.name, pool));
    const shared = await connectSharedServices(connections, options.name, logger);
    const server = await options.start({ config, db, kv: shared.kv, bus: shared.bus, logger });
    onShutdown(logger, config.SHUTDOWN_GRACE_MS, async () => {
      await server.stop();
      await shared.close();
      await db.$disconnect();
      await tracing?.shutdown();
    });
  });
}
