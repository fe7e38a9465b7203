import { describe, expect, it } from 'vitest';
import { searchOf, withClientSpan, withServerSpan } from '../src/index.ts';
import { startInMemoryTracing } from '../src/testing/index.ts';

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

describe('searchOf (the query string handleGraphQL gives Apollo Server)', () => {
  const targets = [
    '/graphql',
    '/graphql?',
    '/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D',
    '/graphql?query={ me { id } }&operationName=Me',
    '/graphql?query=a+b&variables={"x":"é<>\'"}',
    '/graphql?extensions=%zz&a=1&a=2',
    '/graphql?query=x#fragment?y=1',
    '/graphql#frag',
    '/?a=b',
  ];

  it('should read the same parameters as URL#search would give URLSearchParams', () => {
    for (const target of targets) {
      const viaUrl = [...new URLSearchParams(new URL(target, 'http://localhost').search)];
      expect([...new URLSearchParams(searchOf(target))], target).toEqual(viaUrl);
    }
  });

  it('should be empty when there is no query string, as URL#search is', () => {
    for (const target of ['/graphql', '/graphql?', '/graphql#x?y', '/graphql?#x'])
      expect(searchOf(target), target).toBe(new URL(target, 'http://localhost').search);
  });
});

describe('span helpers without and with a tracer provider', () => {
  it('should run the work directly with no traceparent to send when no provider is installed', async () => {
    let sent: Record<string, string> | undefined;
    const answer = await withServerSpan(
      'server',
      { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
      {},
      () =>
        withClientSpan('client', {}, async (headers) => {
          sent = headers;
          return 42;
        }),
    );
    expect(answer).toBe(42);
    expect(sent).toEqual({});
    await expect(withServerSpan('server', {}, {}, () => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    // A synchronous throw comes back as a rejection, as it does with a provider.
    const throwing = () => {
      throw new Error('thrown');
    };
    await expect(withServerSpan('server', {}, {}, throwing)).rejects.toThrow('thrown');
    await expect(withClientSpan('client', {}, throwing)).rejects.toThrow('thrown');
  });

  it('should continue the caller trace and send traceparent once a provider is installed', async () => {
    const tracing = startInMemoryTracing();
    try {
      const traceId = 'c'.repeat(32);
      let sent: Record<string, string> | undefined;
      await withServerSpan('server', { traceparent: `00-${traceId}-${'d'.repeat(16)}-01` }, {}, () =>
        withClientSpan('client', {}, async (headers) => {
          sent = headers;
        }),
      );
      expect(sent?.traceparent).toMatch(TRACEPARENT);
      expect(sent?.traceparent?.split('-')[1]).toBe(traceId);
      expect(tracing.spans().map((s) => [s.name, s.traceId])).toEqual([
        ['client', traceId],
        ['server', traceId],
      ]);
    } finally {
      await tracing.stop();
    }
  });
});
