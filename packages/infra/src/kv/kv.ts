/**
 * The key-value port (Redis in production, an in-process store in embedded mode). It names the operations the
 * services need, not Redis's whole command set; each adapter is tested by the one contract suite in
 * test/kv.contract.ts. Keys are namespaced by the required `prefix` given to the adapter.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  /** Sets a value, optionally expiring after ttlMs. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(...keys: string[]): Promise<number>;
  exists(key: string): Promise<boolean>;
  /**
   * Fixed-window counter for rate limits: increments `key` and returns the new count; the window (ttlMs) starts
   * with the first increment and is not extended by later ones.
   */
  incrWindow(key: string, ttlMs: number): Promise<{ count: number; resetInMs: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
