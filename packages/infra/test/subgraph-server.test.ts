import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type GraphQLResolveInfo } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADER, requestPath, signIdentity, startSubgraphServer, type RunningServer } from '../src/index.ts';
import { silentLogger, TEST_SECRETS } from '../src/testing/index.ts';

/** A subgraph with cache hints in its SDL: Apollo's cache-control plugin, when on, turns them into a header. */
const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  enum CacheControlScope { PUBLIC PRIVATE }
  directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
  type Query { thing(id: ID!): Thing @cacheControl(maxAge: 60) }
  type Thing @key(fields: "id") @cacheControl(maxAge: 60) { id: ID! name: String! }
`);

const seen: { cacheControl: unknown }[] = [];
const resolvers = {
  Query: {
    thing: (_: unknown, args: { id: string }, _ctx: unknown, info: GraphQLResolveInfo & { cacheControl?: unknown }) => {
      seen.push({ cacheControl: info.cacheControl });
      return { id: args.id };
    },
  },
  Thing: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    name: (thing: { id: string }) => `thing ${thing.id}`,
  },
};

let server: RunningServer;
beforeAll(async () => {
  server = await startSubgraphServer({
    name: 'things',
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> }),
    host: '127.0.0.1',
    port: 0,
    signingSecret: TEST_SECRETS.GATEWAY_SIGNING_SECRET,
    maxSkewSeconds: 30,
    production: true,
    logger: silentLogger,
    readiness: {},
    context: () => ({}),
  });
});
afterAll(async () => {
  await server.stop();
});

async function post(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const body = JSON.stringify({ query, variables });
  const res = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [IDENTITY_HEADER]: signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, null, {
        audience: 'things',
        path: requestPath(server.url),
        body,
      }),
      ...headers,
    },
    body,
  });
  return { res, json: (await res.json()) as { data?: unknown; errors?: unknown; extensions?: unknown } };
}

describe('subgraph server (lean pipeline)', () => {
  it('should answer root fields and entities without computing cache policies', async () => {
    const { res, json } = await post('query($id: ID!) { thing(id: $id) { id name } }', { id: '1' });
    expect(json).toEqual({ data: { thing: { id: '1', name: 'thing 1' } } });
    // The cache-control plugin would set `cache-control: max-age=60, public` from the hints and hand every
    // resolver an `info.cacheControl`; the subgraph computes neither.
    expect(res.headers.get('cache-control')).toBeNull();
    expect(seen.at(-1)).toEqual({ cacheControl: undefined });

    const entities = await post('query($r: [_Any!]!) { _entities(representations: $r) { ... on Thing { id name } } }', {
      r: [
        { __typename: 'Thing', id: '2' },
        { __typename: 'Thing', id: '3' },
      ],
    });
    expect(entities.json).toEqual({
      data: {
        _entities: [
          { id: '2', name: 'thing 2' },
          { id: '3', name: 'thing 3' },
        ],
      },
    });
    expect(entities.res.headers.get('cache-control')).toBeNull();
  });

  it('should not build a federated trace even when the caller asks for one', async () => {
    const { json } = await post(
      'query($id: ID!) { thing(id: $id) { id } }',
      { id: '4' },
      {
        'apollo-federation-include-trace': 'ftv1',
      },
    );
    expect(json).toEqual({ data: { thing: { id: '4' } } });
  });
});
