import { describe, expect, it } from 'vitest';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType, makeServer } from 'graphql-ws';
import { NextMessages } from '../src/edge/next-messages.ts';
import { graphql } from '../src/graphql-runtime.ts';

/** Formats like the gateway in production: internal errors masked, client errors kept. */
const format = (error: GraphQLFormattedError): GraphQLFormattedError =>
  error.extensions?.code === 'INTERNAL_SERVER_ERROR' ? { message: 'Internal server error' } : error;
const payload = (result: ExecutionResult) => {
  const { errors, ...rest } = result;
  return errors ? { ...rest, errors: errors.map((e) => format(e.toJSON())) } : rest;
};

/** The messages graphql-ws's own server sends for these results to subscription `id`, with the same onNext. */
async function sentByGraphqlWs(id: string, results: ExecutionResult[]): Promise<string[]> {
  const field = { a: { type: graphql.GraphQLInt } };
  const schema = new graphql.GraphQLSchema({
    query: new graphql.GraphQLObjectType({ name: 'Query', fields: field }),
    subscription: new graphql.GraphQLObjectType({ name: 'Subscription', fields: field }),
  });
  const server = makeServer({
    schema,
    onSubscribe: () => ({ schema, document: graphql.parse('subscription { a }') }),
    subscribe: async function* () {
      for (const result of results) yield result;
    },
    onNext: (_ctx, _id, _payload, _args, result) => payload(result as ExecutionResult),
  });
  const sent: string[] = [];
  let receive: (data: string) => Promise<void> = async () => undefined;
  let completed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (completed = resolve));
  server.opened(
    {
      protocol: GRAPHQL_TRANSPORT_WS_PROTOCOL,
      send: (data) => {
        sent.push(data);
        if (JSON.parse(data).type === MessageType.Complete) completed();
      },
      close: () => undefined,
      onMessage: (cb) => (receive = cb),
    },
    {},
  );
  await receive(JSON.stringify({ type: MessageType.ConnectionInit }));
  await receive(JSON.stringify({ id, type: MessageType.Subscribe, payload: { query: 'subscription { a }' } }));
  await done;
  return sent.filter((data) => JSON.parse(data).type === MessageType.Next);
}

describe('NextMessages', () => {
  const liked = (viewerHasLiked: boolean): ExecutionResult => ({
    data: { postLiked: { likeCount: 2, user: { username: 'ana "quoted" ✓' }, post: { viewerHasLiked } } },
  });
  const partial: ExecutionResult = {
    data: { postLiked: { likeCount: 3, post: null } },
    errors: [
      new graphql.GraphQLError('boom inside', {
        path: ['postLiked', 'post'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      }),
      new graphql.GraphQLError('Not found', { path: ['postLiked', 'post'], extensions: { code: 'NOT_FOUND' } }),
    ],
    extensions: { traceId: 'abc' },
  };

  it('should write, per subscription id, byte for byte the next message graphql-ws would send', async () => {
    const messages = new NextMessages(payload);
    const results = [liked(true), liked(false), partial];
    for (const id of ['1', 'e4a6b1f0-2d7c-4c1e-9d51-0d1f9a0b7c11', 'id with "quotes" \\ and ✓']) {
      const prefix = NextMessages.prefix(id);
      expect(results.map((result) => messages.message(prefix, result))).toEqual(await sentByGraphqlWs(id, results));
    }
  });

  it('should serialize a result once for every subscriber it goes to, and viewer variants apart', () => {
    let serialized = 0;
    const messages = new NextMessages((result) => (serialized++, payload(result)));
    const asLiker = liked(true);
    const asOther = liked(false);
    const sent = ['a', 'b', 'c'].flatMap((id) => [
      messages.message(NextMessages.prefix(id), asLiker),
      messages.message(NextMessages.prefix(id), asOther),
    ]);
    expect(serialized).toBe(2);
    expect(JSON.parse(sent[0]!)).toEqual({ id: 'a', type: 'next', payload: asLiker });
    expect(JSON.parse(sent[5]!)).toEqual({ id: 'c', type: 'next', payload: asOther });
    expect(JSON.parse(sent[0]!).payload.data.postLiked.post.viewerHasLiked).toBe(true);
    expect(JSON.parse(sent[1]!).payload.data.postLiked.post.viewerHasLiked).toBe(false);
  });
});
