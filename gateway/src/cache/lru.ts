/**
 * A bounded map that forgets its least recently used entry first, approximately: a Map keeps insertion order and
 * the oldest insertion goes first, but a read moves its entry to the end only if more than a quarter of the
 * capacity was inserted or moved since it was last put there. A Map's delete and set on every read (the exact
 * LRU) costs more than the lookup itself on a large map (its table fills with holes and is rebuilt), and the
 * entity cache reads dozens of entries per fetch. What stays true: an entry read is never the next to go before
 * three quarters of the capacity was inserted after that read. `onEvict` hears each entry pushed out by the bound,
 * not deletes.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, Slot<V>>();
  /** Counts insertions and moves to the end: a slot's `tick` says how far from the end it is at most. */
  private tick = 0;
  private readonly refreshAfter: number;

  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (capacity < 1) throw new Error('Lru needs a capacity of at least 1');
    this.refreshAfter = capacity >> 2;
  }

  get size() {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (this.tick - slot.tick > this.refreshAfter) this.moveToEnd(key, slot);
    return slot.value;
  }

  set(key: K, value: V): void {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      slot.value = value;
      if (this.tick - slot.tick > this.refreshAfter) this.moveToEnd(key, slot);
      return;
    }
    this.map.set(key, { value, tick: ++this.tick });
    if (this.map.size <= this.capacity) return;
    const oldest = this.map.entries().next();
    if (oldest.done) return;
    const [evictedKey, evicted] = oldest.value;
    this.map.delete(evictedKey);
    this.onEvict?.(evictedKey, evicted.value);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  private moveToEnd(key: K, slot: Slot<V>) {
    this.map.delete(key);
    this.map.set(key, slot);
    slot.tick = ++this.tick;
  }
}

interface Slot<V> {
  value: V;
  tick: number;
}
