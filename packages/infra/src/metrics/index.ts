export * from './registry.ts';
export * from './graphql-metrics.ts';
