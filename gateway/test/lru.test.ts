import { describe, expect, it } from 'vitest';
import { Lru } from '../src/cache/lru.ts';

describe('Lru', () => {
  it('should hold at most its capacity and push out the oldest insertion first', () => {
    const evicted: string[] = [];
    const lru = new Lru<string, number>(4, (key) => evicted.push(key));
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) lru.set(key, key.charCodeAt(0));
    expect(lru.size).toBe(4);
    expect(evicted).toEqual(['a', 'b']);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('c')).toBe(99);
    lru.delete('c');
    lru.set('g', 1);
    expect(evicted).toEqual(['a', 'b']);
  });

  it('should keep an entry read within the last quarter where it is, and move an older one to the end', () => {
    const evicted: number[] = [];
    const lru = new Lru<number, number>(8, (key) => evicted.push(key));
    for (let key = 0; key < 8; key++) lru.set(key, key);
    // 7 was the last insertion (within a quarter of 8): reading it does not move it; 0 is older and moves.
    lru.get(7);
    lru.get(0);
    for (let key = 8; key < 15; key++) lru.set(key, key);
    expect(evicted).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(lru.get(0)).toBe(0);
  });

  it('should never push out an entry read before three quarters of its capacity were inserted after the read', () => {
    const capacity = 100;
    const evicted = new Set<number>();
    const lru = new Lru<number, number>(capacity, (key) => evicted.add(key));
    let next = 0;
    for (; next < capacity; next++) lru.set(next, next);
    for (let round = 0; round < 50; round++) {
      // Read a key of every age, then insert three quarters of the capacity: each key read must still be there.
      const read = [next - 1, next - 10, next - 30, next - 60, next - 99].filter((key) => lru.get(key) !== undefined);
      expect(read.length).toBeGreaterThan(0);
      for (let i = 0; i < (capacity * 3) / 4; i++, next++) lru.set(next, next);
      for (const key of read) expect(lru.get(key)).toBe(key);
    }
    expect(evicted.size).toBeGreaterThan(1_000);
  });

  it('should replace a value in place and refuse a capacity under 1', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('a', 2);
    expect(lru.get('a')).toBe(2);
    expect(lru.size).toBe(1);
    expect(() => new Lru(0)).toThrow();
  });
});
