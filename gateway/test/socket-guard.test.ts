import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import type { OperationDefinitionNode } from 'graphql';
import { MemoryKeyValueStore, createLogger } from '@insta/infra';
import { uniquePrefix } from '@insta/infra/testing';
import { loadGatewayConfig } from '../src/config.ts';
import { createSocketGuard } from '../src/edge/socket-guard.ts';
import { graphql } from '../src/graphql-runtime.ts';
import { corsPolicy } from '../src/http/cors.ts';
import { RateLimiter } from '../src/limits/rate-limit.ts';
import { JWT_SECRET, SIGNING_SECRET } from './helpers.ts';

const schema = graphql.buildSchema(`
  type Post { id: ID! likes(first: Int): [Post!]! }
  type Query { post(id: ID!): Post }
  type Subscription { postLiked(postId: ID!): Post! }
`);

describe('the websocket guard', () => {
  const config = loadGatewayConfig({
    JWT_SECRET,
    GATEWAY_SIGNING_SECRET: SIGNING_SECRET,
    RATE_LIMIT_READ: '1/600',
    MAX_COST: '50',
  });
  const guard = createSocketGuard({
    cors: corsPolicy(config),
    clientIp: () => '192.0.2.9',
    limits: config,
    schema: () => schema,
    rateLimiter: new RateLimiter(
      new MemoryKeyValueStore(uniquePrefix('guard:')),
      config,
      createLogger('guard', 'silent'),
    ),
    trustedDocuments: null,
  });
  const operation = (query: string, variables: Record<string, unknown> = {}) => {
    const document = graphql.parse(query);
    const definition = document.definitions[0] as OperationDefinitionNode;
    return { query, document, operation: definition, variables, identity: null, client: { ip: '192.0.2.9' } };
  };
  const SUBSCRIBE = 'subscription($id: ID!) { postLiked(postId: $id) { id } }';

  it('should take a read token per subscription, which Apollo Server never sees', async () => {
    await expect(guard.check(operation(SUBSCRIBE, { id: '1' }))).resolves.toBeUndefined();
    await expect(guard.check(operation(SUBSCRIBE, { id: '1' }))).rejects.toMatchObject({
      extensions: { code: 'RATE_LIMITED' },
    });
  });

  it('should leave the rate limit of queries to Apollo Server (they run through it)', async () => {
    await expect(guard.check(operation('{ post(id: "1") { id } }'))).resolves.toBeUndefined();
  });

  it('should count the variables of a subscription in its cost', async () => {
    const costly = 'subscription($n: Int) { postLiked(postId: "1") { likes(first: $n) { id } } }';
    await expect(guard.check(operation(costly, { n: 100 }))).rejects.toMatchObject({
      extensions: { code: 'OPERATION_LIMIT_EXCEEDED' },
    });
  });

  it('should refuse a NUL character in a subscription variable', async () => {
    await expect(guard.check(operation(SUBSCRIBE, { id: '1\u0000' }))).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', field: 'id' },
    });
  });

  it('should refuse an upgrade from a foreign origin and allow one without Origin', () => {
    const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
    expect(guard.allowsUpgrade(req({ origin: 'https://evil.example', host: 'api.example.com' }))).toBe(false);
    expect(guard.allowsUpgrade(req({ host: 'api.example.com' }))).toBe(true);
    expect(guard.allowsUpgrade(req({ origin: 'https://api.example.com', host: 'api.example.com' }))).toBe(true);
  });
});
