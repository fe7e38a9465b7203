import type { KeyValueStore, ScoredMember, SortedSetEntry, TokenBucket, TokenBucketResult } from './kv.ts';

interface BucketState {
  tokens: number;
  /** When `tokens` was computed (ms since epoch). */
  at: number;
  /** When the bucket is full again, i.e. the same as absent. */
  fullAt: number;
}

/** Buckets kept before full ones (the same as absent ones) are swept. */
const BUCKET_SWEEP_SIZE = 10_000;

interface Entry {
  value: string;
  expiresAt: number | null;
}

/** In-process KeyValueStore for embedded mode (one process serves everything). Same contract as Redis. */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly entries = new Map<string, Entry>();
  private readonly sortedSets = new Map<string, Map<string, number>>();
  private readonly buckets = new Map<string, BucketState>();

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
      } else if (this.sortedSets.delete(this.prefix + key)) removed++;
    }
    return removed;
  }

  async exists(key: string) {
    return this.live(key) !== undefined || this.sortedSets.has(this.prefix + key);
  }

  async existsMany(keys: readonly string[]) {
    return Promise.all(keys.map((key) => this.exists(key)));
  }

  async takeTokens(key: string, bucket: TokenBucket, count = 1): Promise<TokenBucketResult> {
    const k = this.prefix + key;
    const now = Date.now();
    if (this.buckets.size >= BUCKET_SWEEP_SIZE) this.sweepFullBuckets(now);
    const { state, result } = takeFromBucket(this.buckets.get(k), bucket, count, now);
    this.buckets.set(k, state);
    return result;
  }

  private sweepFullBuckets(now: number) {
    for (const [k, state] of this.buckets) if (state.fullAt <= now) this.buckets.delete(k);
  }

  async zaddCapped(entries: readonly SortedSetEntry[], cap: number) {
    const touched = new Set<string>();
    const added: number[] = [];
    for (const [i, { key, member, score }] of entries.entries()) {
      const k = this.prefix + key;
      let set = this.sortedSets.get(k);
      if (!set) this.sortedSets.set(k, (set = new Map()));
      if (!set.has(member)) added.push(i);
      set.set(member, score);
      touched.add(k);
    }
    for (const k of touched) {
      const set = this.sortedSets.get(k);
      if (!set || set.size <= cap) continue;
      for (const { member } of descending(set).slice(cap)) set.delete(member);
      if (set.size === 0) this.sortedSets.delete(k);
    }
    return added;
  }

  async zrangeDesc(key: string, after: ScoredMember | null, limit: number) {
    const set = this.sortedSets.get(this.prefix + key);
    if (!set || limit <= 0) return [];
    const all = descending(set);
    return (after ? all.filter((m) => compareDesc(m, after) > 0) : all).slice(0, limit);
  }

  async zrem(key: string, members: readonly string[]) {
    const k = this.prefix + key;
    const set = this.sortedSets.get(k);
    if (!set) return 0;
    let removed = 0;
    for (const member of members) if (set.delete(member)) removed++;
    if (set.size === 0) this.sortedSets.delete(k);
    return removed;
  }

  async zcard(key: string) {
    return this.sortedSets.get(this.prefix + key)?.size ?? 0;
  }

  async ping() {}

  async close() {
    this.entries.clear();
    this.sortedSets.clear();
    this.buckets.clear();
  }
}

/** Negative when `a` comes first in descending (score, member) order, as Redis orders a reversed range. */
function compareDesc(a: ScoredMember, b: ScoredMember): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.member === b.member ? 0 : a.member < b.member ? 1 : -1;
}

function descending(set: Map<string, number>): ScoredMember[] {
  return [...set].map(([member, score]) => ({ member, score })).sort(compareDesc);
}

/** The token-bucket step the Redis adapter runs as a Lua script, on the process clock. */
function takeFromBucket(
  previous: BucketState | undefined,
  { capacity, refillPerSecond }: TokenBucket,
  count: number,
  now: number,
): { state: BucketState; result: TokenBucketResult } {
  const wanted = Math.min(count, capacity);
  const msPerToken = 1000 / refillPerSecond;
  let tokens = previous ? Math.min(capacity, previous.tokens + (now - previous.at) / msPerToken) : capacity;
  const allowed = tokens >= wanted;
  if (allowed) tokens -= wanted;
  const resetMs = Math.ceil((capacity - tokens) * msPerToken);
  return {
    state: { tokens, at: now, fullAt: now + resetMs },
    result: {
      allowed,
      remaining: Math.floor(tokens),
      retryAfterMs: allowed ? 0 : Math.ceil((wanted - tokens) * msPerToken),
      resetMs,
    },
  };
}
