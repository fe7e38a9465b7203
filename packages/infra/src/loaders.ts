import DataLoader from 'dataloader';
import { dataloaderBatchSize } from './metrics/registry.ts';
import { withInternalSpan } from './tracing/tracing.ts';

/**
 * A DataLoader whose every batch (one I/O call) is measured and traced: its size goes to
 * `dataloader_batch_size{loader}` and it runs in a span `load <name>`, so the SQL, Redis and internal calls it
 * makes are that span's children. `name` is a constant of the code, `<service>.<loader>`: a bounded label.
 */
export function namedLoader<K, V, C = K>(
  name: string,
  batch: DataLoader.BatchLoadFn<K, V>,
  options?: DataLoader.Options<K, V, C>,
): DataLoader<K, V, C> {
  return new DataLoader<K, V, C>(
    (keys) => {
      dataloaderBatchSize.observe({ loader: name }, keys.length);
      return withInternalSpan(`load ${name}`, { 'dataloader.name': name, 'dataloader.batch_size': keys.length }, () =>
        Promise.resolve(batch(keys)),
      );
    },
    { name, ...options },
  );
}

/**
 * A per-request DataLoader (see `namedLoader`) that fetches many records by key in one call and maps them back in
 * key order (missing keys resolve to null).
 */
export function keyedLoader<K, V>(
  name: string,
  fetch: (keys: readonly K[]) => Promise<V[]>,
  keyOf: (value: V) => K,
): DataLoader<K, V | null> {
  return namedLoader<K, V | null>(name, async (keys) => {
    const byKey = new Map((await fetch(keys)).map((v) => [keyOf(v), v] as const));
    return keys.map((k) => byKey.get(k) ?? null);
  });
}
