/**
 * A bounded map that forgets its least recently used entry first (a Map keeps insertion order: a read moves the
 * entry to the end). `onEvict` hears each entry pushed out by the bound, not deletes.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (capacity < 1) throw new Error('Lru needs a capacity of at least 1');
  }

  get size() {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size <= this.capacity) return;
    const oldest = this.map.keys().next();
    if (oldest.done) return;
    const evicted = this.map.get(oldest.value) as V;
    this.map.delete(oldest.value);
    this.onEvict?.(oldest.value, evicted);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
