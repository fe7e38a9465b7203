import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationDefinitionNode } from 'graphql';
import { graphql } from '../src/graphql-runtime.ts';
import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { DEFAULT_SUPERGRAPH_PATH } from '../src/config.ts';
import { operationCost } from '../src/limits/cost.ts';
import { startTestGateway, type TestGateway } from './helpers.ts';
import { runOnce, wsClient } from './ws-client.ts';

const errorCodes = (error: unknown) => (error as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code);

/** Three nested lists of friends; `$a`, `$b`, `$c` (or literals) as their page sizes. */
const THREE_LEVELS =
  'query Friends($a: Int, $b: Int, $c: Int) { user(id: "1") { friends(first: $a) { friends(first: $b) { friends(first: $c) { id } } } } }';
const DEFAULT_PAGES = '{ user(id: "1") { friends { friends { friends { id } } } } }';

describe('cost limit with variables and default page sizes (MAX_COST 5000)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ MAX_COST: '5000', RATE_LIMITS: 'false' });
  });
  afterAll(() => t.close());

  const expectCostRefusal = async (body: unknown) => {
    const response = await t.post(body);
    expect(response.status).toBe(400);
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['OPERATION_LIMIT_EXCEEDED']);
    expect(response.body.errors?.[0]?.message).toMatch(/Cost limit of 5000 exceeded, found \d+/);
  };

  it('should multiply default page sizes through nested lists (20×20×20)', async () => {
    await expectCostRefusal({ query: DEFAULT_PAGES });
  });

  it('should count page sizes given in variables ($a/$b/$c = 100)', async () => {
    await expectCostRefusal({ query: THREE_LEVELS, variables: { a: 100, b: 100, c: 100 } });
  });

  it('should count the default values of variables', async () => {
    const query = THREE_LEVELS.replace('$a: Int, $b: Int, $c: Int', '$a: Int = 100, $b: Int = 100, $c: Int = 100');
    await expectCostRefusal({ query });
  });

  it('should count page sizes through fragments', async () => {
    const query =
      'query($n: Int) { user(id: "1") { ...F } } fragment F on User { friends(first: $n) { friends(first: $n) { ... on User { friends(first: $n) { id } } } } }';
    await expectCostRefusal({ query, variables: { n: 50 } });
  });

  it('should run the same operation with small page sizes in variables', async () => {
    const { status, body } = await t.post({ query: THREE_LEVELS, variables: { a: 2, b: 2, c: 2 } });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it('should measure a known document on every request with its own variables (cost cached only without them)', async () => {
    const small = { query: THREE_LEVELS, variables: { a: 2, b: 2, c: 2 } };
    expect((await t.post(small)).status).toBe(200);
    await expectCostRefusal({ query: THREE_LEVELS, variables: { a: 100, b: 100, c: 100 } });
    expect((await t.post(small)).status).toBe(200);
  });

  it('should refuse a known costly document without variables on every request', async () => {
    await expectCostRefusal({ query: DEFAULT_PAGES });
    await expectCostRefusal({ query: DEFAULT_PAGES });
  });

  it('should refuse a costly operation over the socket, counting its variables', async () => {
    const { client } = wsClient(t.gateway.url);
    const refused = await runOnce(client, THREE_LEVELS, { a: 100, b: 100, c: 100 });
    const allowed = await runOnce(client, THREE_LEVELS, { a: 1, b: 1, c: 1 });
    await client.dispose();
    expect(refused.results).toEqual([]);
    expect(errorCodes(refused.error)).toEqual(['OPERATION_LIMIT_EXCEEDED']);
    expect(allowed.error).toBeUndefined();
    expect(allowed.results[0]?.errors).toBeUndefined();
  });
});

describe('operationCost', () => {
  const schema = graphql.buildSchema(`
    type User { id: ID! name: String friends(first: Int = 5): [User!]! tags: [String!]! }
    type Query { user: User users(first: Int): [User!]! }
    type Subscription { userChanged(first: Int): [User!]! }
  `);
  const cost = (source: string, variables: Record<string, unknown> = {}) => {
    const document = graphql.parse(source);
    const operation = document.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode;
    return operationCost(schema, document, operation, variables);
  };

  it('should count each field once per time it resolves', () => {
    // users (1) + 3 × (id + name)
    expect(cost('{ users(first: 3) { id name } }')).toBe(7);
  });

  it('should take the default page size (20) when first is not given and the schema has no default', () => {
    expect(cost('{ users { id } }')).toBe(21);
  });

  it("should take the argument's schema default", () => {
    // user (1) + friends (1) + 5 × id
    expect(cost('{ user { friends { id } } }')).toBe(7);
  });

  it('should use a variable over the defaults and a null variable as absent', () => {
    expect(cost('query($n: Int) { users(first: $n) { id } }', { n: 2 })).toBe(3);
    expect(cost('query($n: Int) { users(first: $n) { id } }', { n: null })).toBe(21);
  });

  it('should count lists without first (tags) once', () => {
    expect(cost('{ user { tags } }')).toBe(2);
  });

  it('should cost subscriptions like queries', () => {
    expect(cost('subscription($n: Int) { userChanged(first: $n) { id } }', { n: 10 })).toBe(11);
  });

  it('should leave introspection free', () => {
    expect(cost('{ __schema { types { name } } __typename }')).toBe(0);
  });
});

describe('cost of real screens on the supergraph', () => {
  const api = Supergraph.build(readFileSync(DEFAULT_SUPERGRAPH_PATH, 'utf8')).apiSchema().toGraphQLJSSchema();
  const cost = (source: string, variables: Record<string, unknown> = {}) => {
    const document = graphql.parse(source);
    const operation = document.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode;
    expect(graphql.validate(api, document)).toEqual([]);
    return operationCost(api, document, operation, variables);
  };
  const FEED_SCREEN = `query Feed($first: Int) { feed(first: $first) {
    edges { node { id text createdAt likeCount commentCount viewerHasLiked hashtags
      author { id username avatar { url } } media { id url }
      comments(first: 3) { edges { node { id text author { username } } } } } }
    pageInfo { hasNextPage endCursor } } }`;

  it('should let a home-feed page of 20 posts with their first comments well under the default MAX_COST', () => {
    expect(cost(FEED_SCREEN, { first: 20 })).toBeLessThan(1_000);
  });

  it('should refuse the same screen asking for 100 posts with 100 comments each', () => {
    expect(cost(FEED_SCREEN.replace('first: 3', 'first: 100'), { first: 100 })).toBeGreaterThan(5_000);
  });
});
