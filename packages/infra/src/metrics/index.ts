export * from './registry.ts';
export * from './graphql-metrics.ts';
export * from './entity-cache-metrics.ts';
