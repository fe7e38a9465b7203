import { createPrismaClient, type PrismaClient } from '@insta/db';
import { createTestDatabase } from '@insta/db/testing';
import {
  connectNats,
  connectRedis,
  NatsEventBus,
  RedisKeyValueStore,
  type Principal,
  type RunningServer,
  type SubgraphDeps,
  type SubgraphEnv,
} from '@insta/infra';
import { postSignedGraphQL, silentLogger, testServices, TEST_SECRETS, uniquePrefix } from '@insta/infra/testing';

/**
 * Starts one subgraph on a free port over a fresh database copied from the migrated template, the real Redis
 * and the real NATS (prefixed per test file), and gives a client that signs requests like the gateway.
 */
export async function startSubgraphHarness<TConfig extends SubgraphEnv>(options: {
  name: string;
  loadConfig: (env: NodeJS.ProcessEnv) => TConfig;
  start: (deps: SubgraphDeps<TConfig, PrismaClient>) => Promise<RunningServer>;
  env?: Record<string, string>;
}) {
  const database = await createTestDatabase();
  const db: PrismaClient = createPrismaClient({ url: database.url, poolSize: 5 });
  const kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), uniquePrefix(`${options.name}:`));
  const bus = new NatsEventBus(
    await connectNats(testServices.natsUrl, `${options.name}-test`),
    uniquePrefix(options.name),
    silentLogger,
  );
  const config = options.loadConfig({
    ...TEST_SECRETS,
    PORT: '0',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    ...options.env,
  });
  const server = await options.start({ config, db, kv, bus, logger: silentLogger });

  const request = <T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown> = {},
    principal: Principal = null,
    headers: Record<string, string> = {},
  ) =>
    postSignedGraphQL<T>(
      server.url,
      { audience: options.name, principal, secret: config.GATEWAY_SIGNING_SECRET },
      query,
      variables,
      headers,
    );

  return {
    server,
    db,
    kv,
    bus,
    config,
    request,
    async stop() {
      await server.stop();
      await db.$disconnect();
      await kv.close();
      await bus.close();
      await database.drop();
    },
  };
}
