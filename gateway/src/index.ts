import {
  NatsEventBus,
  RedisKeyValueStore,
  connectNats,
  connectRedis,
  connectionsEnvSchema,
  createLogger,
  loadConfig,
  onShutdown,
  runMain,
  startTracing,
} from '@insta/infra';
import { RedisEntityCacheStore, createGatewayServer, loadGatewayConfig } from './server.ts';

runMain(async () => {
  const config = loadGatewayConfig();
  const { REDIS_URL, NATS_URL, DEPLOYMENT_PREFIX } = loadConfig(
    connectionsEnvSchema.pick({ REDIS_URL: true, NATS_URL: true, DEPLOYMENT_PREFIX: true }),
  );
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const tracing = startTracing('gateway');
  const redis = await connectRedis(REDIS_URL, logger);
  const kv = new RedisKeyValueStore(redis, `${DEPLOYMENT_PREFIX}:`);
  const entityCacheStore = new RedisEntityCacheStore(redis, `${DEPLOYMENT_PREFIX}:ec:`);
  const bus = new NatsEventBus(await connectNats(NATS_URL, 'gateway'), DEPLOYMENT_PREFIX, logger);
  const server = await createGatewayServer({ config, kv, bus, logger, entityCacheStore });
  onShutdown(logger, config.SHUTDOWN_GRACE_MS, async () => {
    await server.stop();
    await bus.close();
    await kv.close();
    await tracing?.shutdown();
  });
});
