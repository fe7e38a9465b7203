/**
 * The key-value port (Redis in production, an in-process store in embedded mode). It names the operations the
 * services need, not Redis's whole command set; each adapter is tested by the one contract suite in
 * test/kv.contract.ts. Keys are namespaced by the required `prefix` given to the adapter.
 */
/** A member of a sorted set with its score. */
export interface ScoredMember {
  member: string;
  score: number;
}

/** One insert into a sorted set (`key`), for the batched `zaddCapped`. */
export interface SortedSetEntry extends ScoredMember {
  key: string;
}

/** A token bucket: holds up to `capacity` tokens and gains `refillPerSecond` (fractions too) up to that. */
export interface TokenBucket {
  capacity: number;
  refillPerSecond: number;
}

export interface TokenBucketResult {
  /** Whether the tokens were taken; a refused take takes none. */
  allowed: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** When refused: ms until enough tokens are there; 0 when allowed. */
  retryAfterMs: number;
  /** ms until the bucket is full again (the quota window has reset). */
  resetMs: number;
}

export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  /** Sets a value, optionally expiring after ttlMs. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(...keys: string[]): Promise<number>;
  exists(key: string): Promise<boolean>;
  /** `exists` of each key, in the order given, in one round trip. */
  existsMany(keys: readonly string[]): Promise<boolean[]>;
  /**
   * Rate limits: takes `count` tokens (at most the capacity) from the token bucket at `key` if it holds them, in
   * one atomic round trip. A bucket seen for the first time is full; an idle bucket expires once it is full again.
   * Bucket keys are a namespace of their own: use them only with takeTokens.
   */
  takeTokens(key: string, bucket: TokenBucket, count?: number): Promise<TokenBucketResult>;
  /**
   * Sorted sets (timelines). Scores are integers below 2^53 (exact in a double). Adds every entry (an existing
   * member keeps one copy, with the new score) and then keeps only the `cap` highest-scored members of each key
   * touched, all in one round trip. Order between members of equal score is by member, like Redis. Resolves to
   * the indexes (in `entries`) of the members that were new in their set, so a redone batch announces nothing.
   */
  zaddCapped(entries: readonly SortedSetEntry[], cap: number): Promise<number[]>;
  /**
   * Up to `limit` members in descending (score, member) order, starting strictly after `after` in that order
   * (from the top when null): the keyset page of a sorted set.
   */
  zrangeDesc(key: string, after: ScoredMember | null, limit: number): Promise<ScoredMember[]>;
  /** Removes members; returns how many were present. */
  zrem(key: string, members: readonly string[]): Promise<number>;
  zcard(key: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
