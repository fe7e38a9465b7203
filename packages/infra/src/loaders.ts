import DataLoader from 'dataloader';

/**
 * A per-request DataLoader that fetches many records by key in one call and maps them back in key order
 * (missing keys resolve to null).
 */
export function keyedLoader<K, V>(
  fetch: (keys: readonly K[]) => Promise<V[]>,
  keyOf: (value: V) => K,
): DataLoader<K, V | null> {
  return new DataLoader<K, V | null>(async (keys) => {
    const byKey = new Map((await fetch(keys)).map((v) => [keyOf(v), v] as const));
    return keys.map((k) => byKey.get(k) ?? null);
  });
}
