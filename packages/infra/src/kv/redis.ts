import { Redis } from 'ioredis';
import type { KeyValueStore } from './kv.ts';

/** Connects to Redis and resolves once the connection is ready; the caller owns the client. */
export async function connectRedis(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true });
  await client.connect();
  return client;
}

export class RedisKeyValueStore implements KeyValueStore {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {
    if (!prefix) throw new Error('RedisKeyValueStore needs a key prefix');
  }

  async get(key: string) {
    return this.client.get(this.prefix + key);
  }

  async set(key: string, value: string, ttlMs?: number) {
    if (ttlMs) await this.client.set(this.prefix + key, value, 'PX', ttlMs);
    else await this.client.set(this.prefix + key, value);
  }

  async del(...keys: string[]) {
    if (keys.length === 0) return 0;
    return this.client.del(...keys.map((k) => this.prefix + k));
  }

  async exists(key: string) {
    return (await this.client.exists(this.prefix + key)) === 1;
  }

  async incrWindow(key: string, ttlMs: number) {
    const k = this.prefix + key;
    const result = await this.client.multi().incr(k).pexpire(k, ttlMs, 'NX').pttl(k).exec();
    if (!result) throw new Error('Redis transaction aborted');
    const count = Number(result[0]?.[1]);
    const pttl = Number(result[2]?.[1]);
    return { count, resetInMs: pttl > 0 ? pttl : ttlMs };
  }

  async ping() {
    await this.client.ping();
  }

  async close() {
    await this.client.quit();
  }
}
