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
    expect(await kv.existsMany(['never-set', 'a', 'a'])).toEqual([false, true, true]);
    expect(await kv.existsMany([])).toEqual([]);
    expect(await kv.del('a', 'never-set')).toBe(1);
    expect(await kv.get('a')).toBeNull();
  });

  it('should tell which of thousands of keys exist, in the order given', async () => {
    const keys = Array.from({ length: 12_001 }, (_, i) => `many-${i}`);
    await kv.set('many-3', 'x', 60_000);
    await kv.set('many-11000', 'x', 60_000);
    const found = await kv.existsMany(keys);
    expect(found).toHaveLength(keys.length);
    expect(found.flatMap((exists, i) => (exists ? [i] : []))).toEqual([3, 11_000]);
  });

  it('should expire a value after its ttl', async () => {
    await kv.set('short', 'x', 30);
    expect(await kv.get('short')).toBe('x');
    await vi.waitFor(async () => expect(await kv.get('short')).toBeNull(), { timeout: 2_000, interval: 10 });
  });

  describe('token buckets', () => {
    const slow = { capacity: 3, refillPerSecond: 0.001 };

    it('should take tokens up to the capacity and then refuse, saying when to retry', async () => {
      const takes = [];
      for (let i = 0; i < 4; i++) takes.push(await kv.takeTokens('bucket:a', slow));
      expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
      expect(takes.map((t) => t.remaining)).toEqual([2, 1, 0, 0]);
      expect(takes[2]?.retryAfterMs).toBe(0);
      // One token comes back every 1000 s.
      expect(takes[3]?.retryAfterMs).toBeGreaterThan(990_000);
      expect(takes[3]?.retryAfterMs).toBeLessThanOrEqual(1_000_000);
      expect(takes[3]?.resetMs).toBeGreaterThan(2_990_000);
    });

    it('should take several tokens at once, and none when there are not enough', async () => {
      expect(await kv.takeTokens('bucket:b', slow, 2)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await kv.takeTokens('bucket:b', slow, 2)).toMatchObject({ allowed: false, remaining: 1 });
      expect(await kv.takeTokens('bucket:b', slow, 1)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('should count a take above the capacity as the whole capacity', async () => {
      expect(await kv.takeTokens('bucket:c', slow, 10)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('should refill an empty bucket over time', async () => {
      const fast = { capacity: 1, refillPerSecond: 20 };
      expect((await kv.takeTokens('bucket:d', fast)).allowed).toBe(true);
      expect((await kv.takeTokens('bucket:d', fast)).allowed).toBe(false);
      await vi.waitFor(async () => expect((await kv.takeTokens('bucket:d', fast)).allowed).toBe(true), {
        timeout: 2_000,
        interval: 20,
      });
    });

    it('should keep the buckets of different keys apart', async () => {
      const one = { capacity: 1, refillPerSecond: 0.001 };
      expect((await kv.takeTokens('bucket:e1', one)).allowed).toBe(true);
      expect((await kv.takeTokens('bucket:e2', one)).allowed).toBe(true);
      expect((await kv.takeTokens('bucket:e1', one)).allowed).toBe(false);
    });
  });

  it('should keep keys of different prefixes apart', async () => {
    await kv.set('shared-name', 'mine');
    const other = new MemoryKeyValueStore(uniquePrefix('other:'));
    expect(await other.get('shared-name')).toBeNull();
  });

  describe('sorted sets', () => {
    const members = (list: { member: string }[]) => list.map((m) => m.member);

    it('should page members newest first by (score, member) from a keyset cursor', async () => {
      await kv.zaddCapped(
        [
          { key: 'tl:a', member: 'p1', score: 1_000 },
          { key: 'tl:a', member: 'p3', score: 3_000 },
          { key: 'tl:a', member: 'p2b', score: 2_000 },
          { key: 'tl:a', member: 'p2a', score: 2_000 },
          { key: 'tl:a', member: 'p2c', score: 2_000 },
        ],
        100,
      );
      const first = await kv.zrangeDesc('tl:a', null, 2);
      expect(first).toEqual([
        { member: 'p3', score: 3_000 },
        { member: 'p2c', score: 2_000 },
      ]);
      expect(members(await kv.zrangeDesc('tl:a', first[1]!, 2))).toEqual(['p2b', 'p2a']);
      expect(members(await kv.zrangeDesc('tl:a', { member: 'p2a', score: 2_000 }, 10))).toEqual(['p1']);
      expect(await kv.zrangeDesc('tl:a', { member: 'p1', score: 1_000 }, 10)).toEqual([]);
      expect(await kv.zrangeDesc('never-written', null, 10)).toEqual([]);
    });

    it('should keep one copy of a member added twice, with the newer score', async () => {
      expect(await kv.zaddCapped([{ key: 'tl:b', member: 'p', score: 5 }], 10)).toEqual([0]);
      expect(
        await kv.zaddCapped(
          [
            { key: 'tl:b', member: 'p', score: 7 },
            { key: 'tl:b2', member: 'p', score: 7 },
          ],
          10,
        ),
      ).toEqual([1]);
      expect(await kv.zrangeDesc('tl:b', null, 10)).toEqual([{ member: 'p', score: 7 }]);
      expect(await kv.zcard('tl:b')).toBe(1);
    });

    it('should keep only the cap highest-scored members of every key written', async () => {
      const entries = ['x', 'y'].flatMap((user) =>
        Array.from({ length: 6 }, (_, i) => ({ key: `tl:${user}`, member: `p${i}`, score: 1_000 + i })),
      );
      await kv.zaddCapped(entries, 4);
      for (const user of ['x', 'y']) {
        expect(members(await kv.zrangeDesc(`tl:${user}`, null, 10))).toEqual(['p5', 'p4', 'p3', 'p2']);
      }
    });

    it('should add one member to many keys (a fan-out batch), trimming each and naming those it was new in', async () => {
      await kv.zaddCapped(
        Array.from({ length: 3 }, (_, i) => ({ key: 'tl:fan1', member: `old${i}`, score: 10 + i })),
        3,
      );
      const keys = ['tl:fan1', 'tl:fan2', 'tl:fan3'];
      const batch = (member: string, score: number) => keys.map((key) => ({ key, member, score }));
      expect(await kv.zaddCapped(batch('p', 100), 3)).toEqual([0, 1, 2]);
      expect(members(await kv.zrangeDesc('tl:fan1', null, 10))).toEqual(['p', 'old2', 'old1']);
      expect(members(await kv.zrangeDesc('tl:fan3', null, 10))).toEqual(['p']);
      // A redelivered batch: nothing new, nothing trimmed.
      expect(await kv.zaddCapped(batch('p', 100), 3)).toEqual([]);
      expect(await kv.zcard('tl:fan1')).toBe(3);
      // An older post into a full timeline is added and trimmed away at once; it still was new there.
      expect(await kv.zaddCapped(batch('older', 1), 3)).toEqual([0, 1, 2]);
      expect(members(await kv.zrangeDesc('tl:fan1', null, 10))).toEqual(['p', 'old2', 'old1']);
      expect(members(await kv.zrangeDesc('tl:fan2', null, 10))).toEqual(['p', 'older']);
    });

    it('should store scores up to 2^53 exactly', async () => {
      const score = 2 ** 53 - 1;
      await kv.zaddCapped([{ key: 'tl:big', member: 'p', score }], 10);
      expect((await kv.zrangeDesc('tl:big', null, 1))[0]?.score).toBe(score);
    });

    it('should remove members and the key with its last member', async () => {
      await kv.zaddCapped(
        [
          { key: 'tl:c', member: 'p1', score: 1 },
          { key: 'tl:c', member: 'p2', score: 2 },
        ],
        10,
      );
      expect(await kv.exists('tl:c')).toBe(true);
      expect(await kv.zrem('tl:c', ['p1', 'absent'])).toBe(1);
      expect(members(await kv.zrangeDesc('tl:c', null, 10))).toEqual(['p2']);
      expect(await kv.zrem('tl:c', ['p2'])).toBe(1);
      expect(await kv.exists('tl:c')).toBe(false);
      expect(await kv.zcard('tl:c')).toBe(0);
    });

    it('should delete a sorted set with del', async () => {
      await kv.zaddCapped([{ key: 'tl:d', member: 'p', score: 1 }], 10);
      expect(await kv.del('tl:d')).toBe(1);
      expect(await kv.zrangeDesc('tl:d', null, 10)).toEqual([]);
    });
  });

  it('should answer ping', async () => {
    await expect(kv.ping()).resolves.toBeUndefined();
  });
});
