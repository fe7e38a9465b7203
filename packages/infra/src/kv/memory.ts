import type { KeyValueStore } from './kv.ts';

interface Entry {
  value: string;
  expiresAt: number | null;
}

/** In-process KeyValueStore for embedded mode (one process serves everything). Same contract as Redis. */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly prefix: string) {
    if (!prefix) throw new Error('MemoryKeyValueStore needs a key prefix');
  }

  private live(key: string): Entry | undefined {
    const k = this.prefix + key;
    const entry = this.entries.get(k);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return entry;
  }

  async get(key: string) {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number) {
    this.entries.set(this.prefix + key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : null });
  }

  async del(...keys: string[]) {
    let removed = 0;
    for (const key of keys) {
      if (this.live(key)) {
        this.entries.delete(this.prefix + key);
        removed++;
      }
    }
    return removed;
  }

  async exists(key: string) {
    return this.live(key) !== undefined;
  }

  async incrWindow(key: string, ttlMs: number) {
    const now = Date.now();
    const entry = this.live(key);
    if (!entry) {
      this.entries.set(this.prefix + key, { value: '1', expiresAt: now + ttlMs });
      return { count: 1, resetInMs: ttlMs };
    }
    const count = Number(entry.value) + 1;
    entry.value = String(count);
    return { count, resetInMs: entry.expiresAt === null ? ttlMs : entry.expiresAt - now };
  }

  async ping() {}

  async close() {
    this.entries.clear();
  }
}
