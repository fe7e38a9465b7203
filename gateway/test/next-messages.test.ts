import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType, makeServer } from 'graphql-ws';
import * as ws from 'ws';
import WebSocket, { WebSocketServer } from 'ws';
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

/** ws's own frame builder (exported by ws, not typed by @types/ws): what its Sender writes for a message. */
const { Sender } = ws as unknown as {
  Sender: {
    frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[];
  };
};

describe('NextMessages frames and sends', () => {
  const result = (text: string): ExecutionResult => ({ data: { commentAdded: { text } } });
  const servers: WebSocketServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  /** A real ws server and client on loopback: the server's socket for the client, and what the client receives. */
  async function pair(perMessageDeflate = false) {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
    servers.push(server);
    await once(server, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate });
    const received: string[] = [];
    client.on('message', (data) => void received.push(String(data)));
    const [socket] = (await once(server, 'connection')) as [WebSocket];
    await once(client, 'open');
    const receivedCount = async (n: number) => {
      while (received.length < n) await once(client, 'message');
      return received;
    };
    return { socket, client, receivedCount };
  }

  it("should build the frame ws's own Sender writes for the message, at every length encoding", () => {
    const messages = new NextMessages(payload);
    const prefix = NextMessages.prefix('7');
    // Payload lengths under 126 (7-bit), up to 65535 (16-bit) and beyond (64-bit), multi-byte characters included.
    for (const text of ['hi', '✓'.repeat(60), 'x'.repeat(200), 'é'.repeat(40_000), 'y'.repeat(70_000)]) {
      const message = messages.message(prefix, result(text));
      const theirs = Sender.frame(Buffer.from(message), { fin: true, opcode: 1, mask: false, readOnly: false });
      expect(messages.frame(prefix, result(text))).toEqual(Buffer.concat(theirs));
    }
  });

  it('should deliver whole messages in order, between messages ws sends itself', async () => {
    const messages = new NextMessages(payload);
    const { socket, receivedCount } = await pair();
    const prefix = NextMessages.prefix('s1');
    let written = 0;
    messages.send(socket, prefix, result('one'), () => void written++);
    socket.send('between');
    messages.send(socket, prefix, result('x'.repeat(300)), () => void written++);
    const received = await receivedCount(3);
    expect(received).toEqual([
      messages.message(prefix, result('one')),
      'between',
      messages.message(prefix, result('x'.repeat(300))),
    ]);
    expect(JSON.parse(received[2]!)).toEqual({ id: 's1', type: 'next', payload: result('x'.repeat(300)) });
    expect(written).toBe(2);
  });

  it('should not overtake a message ws is still compressing: it queues behind it through ws', async () => {
    const messages = new NextMessages(payload);
    const { socket, receivedCount } = await pair(true);
    const big = 'z'.repeat(100_000);
    // Compressed asynchronously: ws's Sender is busy (its queue holds what is sent meanwhile) until zlib is done.
    socket.send(big, { compress: true });
    let written = false;
    messages.send(socket, NextMessages.prefix('q'), result('after'), () => void (written = true));
    const received = await receivedCount(2);
    expect(received[0]).toBe(big);
    expect(JSON.parse(received[1]!)).toEqual({ id: 'q', type: 'next', payload: result('after') });
    expect(written).toBe(true);
  });

  it('should write nothing to a socket that is no longer open, and count the result as written', async () => {
    const messages = new NextMessages(payload);
    const { socket, client } = await pair();
    const closed = once(client, 'close');
    socket.close(1000, 'bye');
    let written = 0;
    messages.send(socket, NextMessages.prefix('c'), result('late'), () => void written++);
    const received: string[] = [];
    client.on('message', (data) => void received.push(String(data)));
    await closed;
    expect(written).toBe(1);
    expect(received).toEqual([]);
  });
});
