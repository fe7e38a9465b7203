import type { connectRedis } from '@insta/infra';

type Redis = Awaited<ReturnType<typeof connectRedis>>;

/**
 * The entity cache's shared tier (L2) and the generations that version it, in Redis: entries are plain strings
 * under keys that already name their generations (entity-cache.ts), so invalidating is bumping a counter, never
 * finding keys. Every gateway instance uses the same store; the key prefix is required.
 */
export interface EntityCacheStore {
  /** The values under these keys, null where there is none. */
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  /** Writes each value with its own expiry, in one round trip. */
  mset(entries: readonly { key: string; value: string; ttlMs: number }[]): Promise<void>;
  /** The current generation of each tag (0 when never bumped or expired). */
  generations(tags: readonly string[]): Promise<number[]>;
  /**
   * Increments each tag's generation (its counter lives ttlMs after the last bump) and returns the values. With
   * `once` (an event's id), only the first caller bumps and later ones get the values as they are: every gateway
   * handles each event, and they all end up with the same generations instead of one increment each.
   */
  bump(tags: readonly string[], ttlMs: number, once?: string, step?: number): Promise<number[]>;
}

export class RedisEntityCacheStore implements EntityCacheStore {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {
    if (!prefix) throw new Error('RedisEntityCacheStore needs a key prefix');
  }

  async mget(keys: readonly string[]) {
    if (keys.length === 0) return [];
    return this.client.mget(keys.map((key) => `${this.prefix}e:${key}`));
  }

  async mset(entries: readonly { key: string; value: string; ttlMs: number }[]) {
    if (entries.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const { key, value, ttlMs } of entries) pipeline.set(`${this.prefix}e:${key}`, value, 'PX', ttlMs);
    await execOrThrow(pipeline.exec());
  }

  async generations(tags: readonly string[]) {
    if (tags.length === 0) return [];
    const values = await this.client.mget(tags.map((tag) => `${this.prefix}g:${tag}`));
    return values.map((value) => (value === null ? 0 : Number(value)));
  }

  async bump(tags: readonly string[], ttlMs: number, once?: string, step = 1) {
    if (tags.length === 0) return [];
    const keys = [...tags.map((tag) => `${this.prefix}g:${tag}`), `${this.prefix}once:${once ?? ''}`];
    const values = (await this.client.eval(BUMP, keys.length, ...keys, ttlMs, once ? '1' : '0', step)) as number[];
    return values.map(Number);
  }
}

/** KEYS: the tags' counters, then the once-marker; ARGV: ttl ms, whether the marker decides, the increment. */
const BUMP = `
local n = #KEYS - 1
local ttl = tonumber(ARGV[1])
local bump = true
if ARGV[2] == '1' then bump = redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', ttl) end
local out = {}
for i = 1, n do
  if bump then
    out[i] = redis.call('INCRBY', KEYS[i], ARGV[3])
    redis.call('PEXPIRE', KEYS[i], ttl)
  else
    out[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
end
return out`;

async function execOrThrow(pending: Promise<[Error | null, unknown][] | null>): Promise<unknown[]> {
  const results = await pending;
  if (!results) throw new Error('Redis transaction aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
