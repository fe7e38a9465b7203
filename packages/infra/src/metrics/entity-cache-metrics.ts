import { Counter } from 'prom-client';
import { metricsRegistry } from './registry.ts';

/**
 * The gateway's entity cache (gateway/src/cache, ADR 17). Labels: subgraph and type names of the supergraph,
 * the tier (l1, l2) and the source of an invalidation (mutation, event): bounded by the schema.
 */
const registers = [metricsRegistry];

export const entityCacheHits = new Counter({
  name: 'gateway_entity_cache_hits_total',
  help: 'Entities of _entities fetches the gateway answered from its cache, by subgraph, type and tier (l1, l2)',
  labelNames: ['subgraph', 'type', 'tier'] as const,
  registers,
});

export const entityCacheMisses = new Counter({
  name: 'gateway_entity_cache_misses_total',
  help: 'Cacheable entities of _entities fetches the gateway had to fetch from the subgraph, by subgraph and type',
  labelNames: ['subgraph', 'type'] as const,
  registers,
});

export const entityCacheInvalidations = new Counter({
  name: 'gateway_entity_cache_invalidations_total',
  help: 'Cache tags the gateway bumped, by tag kind (entity type, viewer, subgraph, epoch) and source (mutation, event)',
  labelNames: ['kind', 'source'] as const,
  registers,
});

export const entityCacheBypasses = new Counter({
  name: 'gateway_entity_cache_bypasses_total',
  help: 'Fetches that went past the cache because its shared tier (Redis) failed or timed out',
  registers,
});

export const inflightDeduplicated = new Counter({
  name: 'gateway_subgraph_fetches_deduplicated_total',
  help: 'Subgraph fetches answered by an identical fetch already in flight (same subgraph, body and identity)',
  labelNames: ['subgraph'] as const,
  registers,
});

export const singleFetchRequests = new Counter({
  name: 'gateway_single_fetch_requests_total',
  help: 'Queries the gateway answered on its single-fetch fast path (ADR 19): fast (the subgraph data as it came), replayed (errors or no data: shaped by Apollo Gateway from the same answer)',
  labelNames: ['outcome'] as const,
  registers,
});
