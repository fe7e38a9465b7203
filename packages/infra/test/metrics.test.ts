import { ApolloServer } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  CallPolicy,
  UNCOUNTED_PER_HANDLE,
  MAX_OPERATION_LABELS,
  OperationLabels,
  graphqlMetricsPlugin,
  metricsText,
  namedLoader,
} from '../src/index.ts';
import { parseMetrics, metricValue } from '../src/testing/index.ts';

const typeDefs = /* GraphQL */ `
  type Query {
    user(id: ID!): String
    fail(code: String!): String
  }
`;
const resolvers = {
  Query: {
    user: (_: unknown, { id }: { id: string }) => `user ${id}`,
    fail: (_: unknown, { code }: { code: string }) => {
      throw new GraphQLError('failed', { extensions: { code } });
    },
  },
};

describe('metrics labels', () => {
  it('should keep the operation label set bounded under 1,000 users each sending their own operation name', async () => {
    const service = 'cardinality';
    const server = new ApolloServer({ typeDefs, resolvers, plugins: [graphqlMetricsPlugin(service)] });
    await server.start();
    for (let i = 0; i < 1_000; i++) {
      const userId = `u${i.toString().padStart(4, '0')}`;
      await server.executeOperation({
        query: `query Profile_${userId}($id: ID!) { user(id: $id) }`,
        variables: { id: userId },
      });
      await server.executeOperation({
        query: 'query($c: String!) { fail(code: $c) }',
        variables: { c: `E_${userId}` },
      });
    }
    await server.stop();

    const samples = parseMetrics(await metricsText()).filter((s) => s.labels.service === service);
    const operations = new Set(
      samples.filter((s) => s.name === 'graphql_request_duration_seconds_count').map((s) => s.labels.operation),
    );
    expect(operations.size).toBe(MAX_OPERATION_LABELS + 2); // the first names, "other" and "anonymous"
    expect(operations).toContain('other');
    const codes = new Set(samples.filter((s) => s.name === 'graphql_errors_total').map((s) => s.labels.code));
    expect([...codes]).toEqual(['other']);
    expect(metricValue(samples, 'graphql_request_duration_seconds_count')).toBe(2_000);
    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) expect(value).not.toMatch(/^E_u\d+$/);
    }
  });

  it('should measure DataLoader batches by loader name only, whatever keys 1,000 users load', async () => {
    const before = parseMetrics(await metricsText());
    for (let request = 0; request < 10; request++) {
      // A loader per request, as the subgraphs make them; each request loads 100 users' ids at once.
      const loader = namedLoader<string, string>('cardinality.userById', async (ids) => ids.map((id) => `user ${id}`));
      const ids = Array.from({ length: 100 }, (_, i) => `u${String(request * 100 + i).padStart(4, '0')}`);
      expect(await Promise.all(ids.map((id) => loader.load(id)))).toEqual(ids.map((id) => `user ${id}`));
    }
    const after = parseMetrics(await metricsText());
    const grew = (name: string) =>
      metricValue(after, name, { loader: 'cardinality.userById' }) -
      metricValue(before, name, { loader: 'cardinality.userById' });
    expect(grew('dataloader_batch_size_count')).toBe(10);
    expect(grew('dataloader_batch_size_sum')).toBe(1_000);
    const loaders = new Set(after.filter((s) => s.name.startsWith('dataloader_')).map((s) => s.labels.loader));
    expect([...loaders].every((name) => /^[a-z-]+\.[A-Za-z]+$/.test(name!))).toBe(true);
    for (const sample of after) for (const value of Object.values(sample.labels)) expect(value).not.toMatch(/^u\d{4}$/);
  });

  it('should label only well-formed names and keep a name once it is known', () => {
    const labels = new OperationLabels(2);
    expect(labels.label(undefined)).toBe('anonymous');
    expect(labels.label('bad name; drop table')).toBe('other');
    expect(labels.label('a'.repeat(65))).toBe('other');
    expect(labels.label('Feed')).toBe('Feed');
    expect(labels.label('Me')).toBe('Me');
    expect(labels.label('Third')).toBe('other');
    expect(labels.label('Feed')).toBe('Feed');
  });

  it('should report a breaker as open after its threshold of transient failures', async () => {
    const policy = new CallPolicy('metrics-test-dependency', {
      timeoutMs: 1_000,
      retries: 0,
      breakerThreshold: 2,
      breakerHalfOpenAfterMs: 60_000,
    });
    const state = async () =>
      metricValue(parseMetrics(await metricsText()), 'breaker_state', { dependency: 'metrics-test-dependency' });
    expect(await state()).toBe(0);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 2; i++) {
      await expect(policy.execute(() => Promise.reject(refused), { idempotent: false })).rejects.toThrow();
    }
    expect(await state()).toBe(2);
  });
});

describe('default process metrics', () => {
  it('should export CPU, memory and event-loop lag but nothing computed by walking every handle', async () => {
    const names = new Set(parseMetrics(await metricsText()).map((sample) => sample.name));
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'])
      expect(names).toContain(name);
    for (const name of UNCOUNTED_PER_HANDLE) expect(names).not.toContain(name);
  });
});
