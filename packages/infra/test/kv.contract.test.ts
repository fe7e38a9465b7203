import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRedis, MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '../src/index.ts';
import { testServices, uniquePrefix } from '../src/testing/index.ts';

const adapters: [string, () => Promise<KeyValueStore>][] = [
  ['memory', async () => new MemoryKeyValueStore(uniquePrefix('kv:'))],
  ['redis', async () => new RedisKeyValueStore(await connectRedis(testServices.redisUrl), uniquePrefix('kv:'))],
];

describe.each(adapters)('KeyValueStore contract: %s', (_name, create) => {
  let kv: KeyValueStore;
  beforeAll(async () => {
    kv = await create();
  });
  afterAll(async () => {
    await kv.close();
  });

  it('should return null for a key never set', async () => {
    expect(await kv.get('missing')).toBeNull();
    expect(await kv.exists('missing')).toBe(false);
  });

  it('should store, overwrite and delete values', async () => {
    await kv.set('a', '1');
    await kv.set('a', '2');
    expect(await kv.get('a')).toBe('2');
    expect(await kv.exists('a')).toBe(true);
    expect(await kv.del('a', 'never-set')).toBe(1);
    expect(await kv.get('a')).toBeNull();
  });

  it('should expire a value after its ttl', async () => {
    await kv.set('short', 'x', 30);
    expect(await kv.get('short')).toBe('x');
    await vi.waitFor(async () => expect(await kv.get('short')).toBeNull(), { timeout: 2_000, interval: 10 });
  });

  it('should count within a window that later increments do not extend', async () => {
    const first = await kv.incrWindow('window', 60_000);
    const second = await kv.incrWindow('window', 60_000);
    const third = await kv.incrWindow('window', 60_000);
    expect([first.count, second.count, third.count]).toEqual([1, 2, 3]);
    expect(third.resetInMs).toBeGreaterThan(0);
    expect(third.resetInMs).toBeLessThanOrEqual(first.resetInMs);
  });

  it('should start a new window once the old one expired', async () => {
    await kv.incrWindow('window2', 30);
    await kv.incrWindow('window2', 30);
    await vi.waitFor(async () => expect((await kv.incrWindow('window2', 30)).count).toBe(1), {
      timeout: 2_000,
      interval: 40,
    });
  });

  it('should keep keys of different prefixes apart', async () => {
    await kv.set('shared-name', 'mine');
    const other = new MemoryKeyValueStore(uniquePrefix('other:'));
    expect(await other.get('shared-name')).toBeNull();
  });

  it('should answer ping', async () => {
    await expect(kv.ping()).resolves.toBeUndefined();
  });
});
