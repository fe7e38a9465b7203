import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { singleFetchRequests } from '@insta/infra';
import { accessToken, startTestGateway, type GraphQLBody, type TestGateway } from './helpers.ts';

/** How many queries each outcome of the fast path has counted so far (this process). */
async function fastPathCounts() {
  const { values } = await singleFetchRequests.get();
  const count = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { fast: count('fast'), replayed: count('replayed') };
}

/** Stack traces (development mode) name the frames each path ran through; everything else must be equal. */
function withoutStacks(body: GraphQLBody) {
  return JSON.parse(JSON.stringify(body), (key, value: unknown) =>
    key === 'stacktrace' ? undefined : value,
  ) as unknown;
}

interface Case {
  name: string;
  body: { query: string; variables?: Record<string, unknown>; operationName?: string };
  /** What the second request of the document counts (the first one teaches the plan). */
  counts: { fast: number; replayed: number };
}

const cases: Case[] = [
  {
    name: 'one root field',
    body: { query: 'query($id: ID!) { user(id: $id) { id username } }', variables: { id: '1' } },
    counts: { fast: 1, replayed: 0 },
  },
  {
    // The planner prints the ID literal "1" as 1: not the client's operation to the letter, so the full path.
    name: 'an ID literal',
    body: { query: '{ user(id: "1") { id username } }' },
    counts: { fast: 0, replayed: 0 },
  },
  {
    name: 'aliases, variables, arguments and @include',
    body: {
      query:
        'query Q($id: ID!, $f: Boolean!) { a: user(id: $id) { id name: username friends(first: 2) @include(if: $f) { id } } b: user(id: $id) @skip(if: $f) { username } }',
      variables: { id: '7', f: true },
      operationName: 'Q',
    },
    counts: { fast: 1, replayed: 0 },
  },
  {
    name: 'a subgraph error on a nullable field',
    body: { query: 'query($id: ID!) { user(id: $id) { id } fail(code: "FORBIDDEN") }', variables: { id: '1' } },
    counts: { fast: 0, replayed: 1 },
  },
  {
    name: 'a subgraph error on a non-null field',
    body: { query: '{ failNonNull(code: "NOT_FOUND") }' },
    counts: { fast: 0, replayed: 1 },
  },
  {
    name: 'variables that do not coerce',
    body: { query: 'query($id: ID!) { user(id: $id) { id } }', variables: { id: { no: 1 } } },
    counts: { fast: 0, replayed: 0 },
  },
  {
    name: 'a missing variable',
    body: { query: 'query($id: ID!) { user(id: $id) { id } }' },
    counts: { fast: 0, replayed: 0 },
  },
  {
    name: 'a null for a nullable root field',
    body: { query: 'query($id: ID!) { user(id: $id) { id } }', variables: { id: '' } },
    counts: { fast: 1, replayed: 0 },
  },
  {
    name: 'fragments (shaped by the gateway)',
    body: { query: '{ user(id: "1") { ...F } } fragment F on User { id username }' },
    counts: { fast: 0, replayed: 0 },
  },
  {
    name: '__typename (resolved by the gateway)',
    body: { query: '{ user(id: "1") { __typename id } }' },
    counts: { fast: 0, replayed: 0 },
  },
  {
    name: 'the identity the subgraph sees',
    body: { query: '{ seen { userId sessionId header(name: "x-request-id") } }' },
    counts: { fast: 1, replayed: 0 },
  },
];

describe('single-fetch fast path', () => {
  let fast: TestGateway;
  let full: TestGateway;
  let auth: Record<string, string>;

  beforeAll(async () => {
    fast = await startTestGateway({ SINGLE_FETCH_FAST_PATH: 'on' });
    full = await startTestGateway({ SINGLE_FETCH_FAST_PATH: 'off' });
    auth = {
      authorization: `Bearer ${await accessToken({ userId: 'u1', sessionId: 's1' })}`,
      'x-request-id': 'req-1',
    };
  });
  afterAll(async () => {
    await fast?.close();
    await full?.close();
  });

  for (const c of cases) {
    it(`should answer ${c.name} exactly as Apollo Gateway does`, async () => {
      const expected = await full.post(c.body, auth);
      const before = await fastPathCounts();
      const first = await fast.post(c.body, auth);
      // The first request of a document takes the full path and teaches the plan.
      expect(await fastPathCounts()).toEqual(before);
      const second = await fast.post(c.body, auth);
      const after = await fastPathCounts();
      expect({ fast: after.fast - before.fast, replayed: after.replayed - before.replayed }).toEqual(c.counts);
      for (const answer of [first, second]) {
        expect(answer.status).toBe(expected.status);
        expect(withoutStacks(answer.body)).toEqual(withoutStacks(expected.body));
        expect(JSON.stringify(withoutStacks(answer.body))).toBe(JSON.stringify(withoutStacks(expected.body)));
      }
    });
  }

  it('should not take the fast path with it turned off', async () => {
    const before = await fastPathCounts();
    for (let i = 0; i < 3; i++) await full.post({ query: '{ user(id: "3") { id } }' });
    expect(await fastPathCounts()).toEqual(before);
  });

  it('should answer a mutation on the full path and run it once', async () => {
    const touches = async () => (await fast.post({ query: '{ touches }' })).body.data?.touches as number;
    const start = await touches();
    const before = await fastPathCounts();
    for (let i = 0; i < 2; i++) {
      const { body } = await fast.post({ query: 'mutation { touch }' });
      expect(body).toEqual({ data: { touch: true } });
    }
    expect(await touches()).toBe(start + 2);
    // Only the `{ touches }` reads count.
    const after = await fastPathCounts();
    expect(after.fast - before.fast).toBe(1);
  });
});

describe('single-fetch fast path, subgraph unreachable', () => {
  it('should answer a fetch that failed as Apollo Gateway does', async () => {
    const down = { USERS_URL: 'http://127.0.0.1:1/graphql', SUBGRAPH_RETRIES: '0' };
    const fast = await startTestGateway({ ...down, SINGLE_FETCH_FAST_PATH: 'on' });
    const full = await startTestGateway({ ...down, SINGLE_FETCH_FAST_PATH: 'off' });
    try {
      const body = { query: 'query($id: ID!) { user(id: $id) { id } }', variables: { id: '1' } };
      const expected = await full.post(body);
      expect(expected.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      await fast.post(body);
      const before = await fastPathCounts();
      const answer = await fast.post(body);
      expect((await fastPathCounts()).replayed - before.replayed).toBe(1);
      expect(answer.status).toBe(expected.status);
      expect(withoutStacks(answer.body)).toEqual(withoutStacks(expected.body));
    } finally {
      await fast.close();
      await full.close();
    }
  });
});
