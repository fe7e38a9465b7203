import { NatsEventBus, connectNats } from './bus/nats.ts';
import type { EventBus } from './bus/bus.ts';
import type { KeyValueStore } from './kv/kv.ts';
import { RedisKeyValueStore, connectRedis } from './kv/redis.ts';
import type { Logger } from './logger.ts';

export interface SharedServices {
  kv: KeyValueStore;
  bus: EventBus;
  close(): Promise<void>;
}

/** Connects the Redis and NATS ports of a distributed process (embedded mode builds in-process ones). */
export async function connectSharedServices(
  urls: { REDIS_URL: string; NATS_URL: string; DEPLOYMENT_PREFIX: string },
  name: string,
  logger: Logger,
): Promise<SharedServices> {
  const redis = await connectRedis(urls.REDIS_URL, logger);
  const kv = new RedisKeyValueStore(redis, `${urls.DEPLOYMENT_PREFIX}:`);
  const bus = new NatsEventBus(await connectNats(urls.NATS_URL, name), urls.DEPLOYMENT_PREFIX, logger);
  return {
    kv,
    bus,
    close: async () => {
      await bus.close();
      await kv.close();
    },
  };
}
