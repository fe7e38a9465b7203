import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, connectRedis, createLogger, NatsEventBus } from '@insta/infra';
import {
  startPrivateNats,
  startPrivateRedis,
  testServices,
  uniquePrefix,
  type PrivateServer,
} from '@insta/infra/testing';
import { EntityCache, type SubgraphRequest, type SubgraphResponse } from '../src/cache/entity-cache.ts';
import { RedisEntityCacheStore } from '../src/cache/entity-cache-store.ts';
import { dedupingFetcher, requestKey } from '../src/cache/inflight-dedupe.ts';
import { tagsForEvent, tagsForMutation } from '../src/cache/invalidation.ts';
import { Tags } from '../src/cache/entity-cache-policy.ts';
import { isWriteOperation } from '../src/subgraph-data-source.ts';
import { until } from './helpers.ts';

const logger = createLogger('entity-cache-test', 'silent');
const POSTS_QUERY =
  'query($representations:[_Any!]!){_entities(representations:$representations){...on Post{id text}}}';
const USERS_QUERY =
  'query($representations:[_Any!]!){_entities(representations:$representations){...on User{username}}}';

type Redis = Awaited<ReturnType<typeof connectRedis>>;

/** A subgraph that answers `text of <id>` for each representation and records what it was asked. */
function fakeSubgraph(options: { errorFor?: string; nullFor?: string } = {}) {
  const asked: string[][] = [];
  let version = 0;
  return {
    asked,
    change: () => void version++,
    send: async (request: SubgraphRequest): Promise<SubgraphResponse> => {
      const reps = request.variables?.representations as { __typename: string; id: string }[];
      asked.push(reps.map((r) => r.id));
      const errors: { message: string; path: (string | number)[] }[] = [];
      const entities = reps.map((rep, i) => {
        if (rep.id === options.nullFor) return null;
        if (rep.id === options.errorFor) {
          errors.push({ message: 'boom', path: ['_entities', i, 'text'] });
          return { id: rep.id, text: null };
        }
        return { id: rep.id, text: `text of ${rep.id} v${version}`, username: `user ${rep.id} v${version}` };
      });
      return { data: { _entities: entities }, ...(errors.length ? { errors } : {}) };
    },
  };
}

const request = (query: string, typename: string, ids: string[]): SubgraphRequest => ({
  query,
  variables: { representations: ids.map((id) => ({ __typename: typename, id })) },
});

describe('entity cache', () => {
  let redis: Redis;
  const caches: EntityCache[] = [];
  const newCache = (prefix: string, client: Redis = redis, timeoutMs = 200) => {
    const cache = new EntityCache({
      store: new RedisEntityCacheStore(client, prefix),
      l1Entries: 1_000,
      maxTtlMs: 60_000,
      generationTtlMs: 60_000,
      storeTimeoutMs: timeoutMs,
      storeRetryMs: 0,
      logger,
    });
    caches.push(cache);
    return cache;
  };
  beforeAll(async () => {
    redis = await connectRedis(testServices.redisUrl);
  });
  afterAll(async () => {
    for (const cache of caches) cache.stop();
    await redis.quit();
  });

  it('should fetch only the misses and merge them in the order asked', async () => {
    const cache = newCache(`${uniquePrefix('ec')}:`);
    const subgraph = fakeSubgraph();
    const viewer = { viewerId: 'v1' };
    await cache.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['a', 'c']), viewer, subgraph.send);
    const response = await cache.fetchEntities(
      'posts',
      request(POSTS_QUERY, 'Post', ['a', 'b', 'c', 'd']),
      viewer,
      subgraph.send,
    );
    expect(subgraph.asked).toEqual([
      ['a', 'c'],
      ['b', 'd'],
    ]);
    expect(response.data?._entities).toEqual(
      ['a', 'b', 'c', 'd'].map((id) => ({ id, text: `text of ${id} v0`, username: `user ${id} v0` })),
    );
  });

  it('should give every reader its own copy of a cached entity, nested objects included', async () => {
    const prefix = `${uniquePrefix('ec')}:`;
    const [one, other] = [newCache(prefix), newCache(prefix)];
    let sent = 0;
    // The subgraph's answer as the gateway gets it: parsed JSON, with a `__proto__` key a JSON scalar may hold.
    const send = async (req: SubgraphRequest): Promise<SubgraphResponse> => {
      sent++;
      const reps = req.variables?.representations as { id: string }[];
      return JSON.parse(
        JSON.stringify({
          data: { _entities: reps.map((r) => ({ id: r.id, author: { __typename: 'User', id: `u-${r.id}` } })) },
        }).replace('"author"', '"meta":{"__proto__":{"admin":true}},"author"'),
      ) as SubgraphResponse;
    };
    const query =
      'query($representations:[_Any!]!){_entities(representations:$representations){...on Post{id meta author{__typename id}}}}';
    const viewer = { viewerId: 'v1' };
    const expected = [
      JSON.parse('{"id":"a","meta":{"__proto__":{"admin":true}},"author":{"__typename":"User","id":"u-a"}}'),
      { id: 'b', author: { __typename: 'User', id: 'u-b' } },
    ];
    // What the gateway does with each answer: adds `__typename` and merges the next fetch into the nested author.
    const readAndMerge = async (cache: EntityCache, ids: string[]) => {
      const response = await cache.fetchEntities('posts', request(query, 'Post', ids), viewer, send);
      const entities = response.data?._entities as { __typename?: string; author: Record<string, unknown> }[];
      const copy = structuredClone(entities);
      for (const entity of entities) {
        entity.__typename = 'Post';
        entity.author.username = 'merged';
      }
      return copy;
    };
    expect(await readAndMerge(one, ['a', 'b'])).toEqual(expected);
    expect(await readAndMerge(one, ['a', 'b'])).toEqual(expected);
    expect(await readAndMerge(one, ['a', 'b'])).toEqual(expected);
    expect(await readAndMerge(other, ['a', 'b'])).toEqual(expected);
    expect(await readAndMerge(other, ['a', 'b'])).toEqual(expected);
    expect(sent).toBe(1);
    const [first] = (await one.fetchEntities('posts', request(query, 'Post', ['a']), viewer, send)).data?._entities as {
      meta: object;
    }[];
    expect(Object.getPrototypeOf(first!.meta)).toBe(Object.prototype);
    expect(Object.keys(first!.meta)).toEqual(['__proto__']);
    expect((first!.meta as { admin?: boolean }).admin).toBeUndefined();
  });

  it('should move error paths to the positions asked and cache neither failed nor null entities', async () => {
    const cache = newCache(`${uniquePrefix('ec')}:`);
    const subgraph = fakeSubgraph({ errorFor: 'c', nullFor: 'd' });
    const viewer = { viewerId: 'v1' };
    await cache.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['a']), viewer, subgraph.send);
    const response = await cache.fetchEntities(
      'posts',
      request(POSTS_QUERY, 'Post', ['a', 'b', 'c', 'd']),
      viewer,
      subgraph.send,
    );
    expect(response.errors).toEqual([{ message: 'boom', path: ['_entities', 2, 'text'] }]);
    expect((response.data?._entities as unknown[])[3]).toBeNull();
    await cache.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['b', 'c', 'd']), viewer, subgraph.send);
    expect(subgraph.asked.at(-1)).toEqual(['c', 'd']);
  });

  it('should keep posts per viewer and share public profiles between viewers and gateways', async () => {
    const prefix = `${uniquePrefix('ec')}:`;
    const [one, other] = [newCache(prefix), newCache(prefix)];
    const subgraph = fakeSubgraph();
    await one.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['p']), { viewerId: 'v1' }, subgraph.send);
    await one.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['p']), { viewerId: 'v2' }, subgraph.send);
    expect(subgraph.asked).toEqual([['p'], ['p']]);
    await one.fetchEntities('users', request(USERS_QUERY, 'User', ['u']), { viewerId: 'v1' }, subgraph.send);
    await other.fetchEntities('users', request(USERS_QUERY, 'User', ['u']), { viewerId: 'v2' }, subgraph.send);
    await other.fetchEntities('users', request(USERS_QUERY, 'User', ['u']), { viewerId: null }, subgraph.send);
    expect(subgraph.asked).toEqual([['p'], ['p'], ['u']]);
  });

  it('should cache counters for everyone but a viewer-dependent selection per viewer', async () => {
    const cache = newCache(`${uniquePrefix('ec')}:`);
    const subgraph = fakeSubgraph();
    const counts =
      'query($representations:[_Any!]!){_entities(representations:$representations){...on User{followerCount followingCount}}}';
    const status =
      'query($representations:[_Any!]!){_entities(representations:$representations){...on User{followerCount viewerFollowStatus}}}';
    for (const query of [counts, status])
      for (const viewerId of ['v1', 'v2'])
        await cache.fetchEntities('social-graph', request(query, 'User', ['u']), { viewerId }, subgraph.send);
    expect(subgraph.asked).toEqual([['u'], ['u'], ['u']]);
  });

  it('should drop an entry on every gateway when one of its tags is bumped, once per event', async () => {
    const prefix = `${uniquePrefix('ec')}:`;
    const [one, other] = [newCache(prefix), newCache(prefix)];
    const subgraph = fakeSubgraph();
    const read = (cache: EntityCache) =>
      cache.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['p']), { viewerId: 'v1' }, subgraph.send);
    await read(one);
    subgraph.change();
    await one.invalidate([Tags.entity('Post', 'p')], 'event', 'posts.post.edited:e1');
    await other.invalidate([Tags.entity('Post', 'p')], 'event', 'posts.post.edited:e1');
    expect(((await read(one)).data?._entities as { text: string }[])[0]?.text).toBe('text of p v1');
    expect(subgraph.asked).toHaveLength(2);
    // The same event on the other gateway did not bump again: it reads what the first one stored.
    expect(((await read(other)).data?._entities as { text: string }[])[0]?.text).toBe('text of p v1');
    expect(subgraph.asked).toHaveLength(2);
  });

  it('should not time out a Redis reply that only waited for a busy process', async () => {
    const prefix = `${uniquePrefix('ec')}:`;
    const subgraph = fakeSubgraph();
    const read = (cache: EntityCache) =>
      cache.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['p']), { viewerId: 'v1' }, subgraph.send);
    await read(newCache(prefix));
    // A second process (empty L1, generations unknown) asks Redis, then its loop is busy past the timeout.
    const pending = read(newCache(prefix, redis, 20));
    const busyUntil = Date.now() + 100;
    while (Date.now() < busyUntil);
    expect(((await pending).data?._entities as { text: string }[])[0]?.text).toBe('text of p v0');
    expect(subgraph.asked).toHaveLength(1);
  });

  describe('with Redis down', () => {
    let server: PrivateServer;
    let client: Redis;
    beforeAll(async () => {
      server = await startPrivateRedis();
      client = await connectRedis(server.url);
    });
    afterAll(async () => {
      client.disconnect();
      await server.destroy();
    });

    it('should bypass the cache and still answer, and drop what it held once Redis is back', async () => {
      const prefix = `${uniquePrefix('ec')}:`;
      const [cache, peer] = [newCache(prefix, client, 100), newCache(prefix, client, 100)];
      const subgraph = fakeSubgraph();
      const read = (on: EntityCache) =>
        on.fetchEntities('posts', request(POSTS_QUERY, 'Post', ['p']), { viewerId: 'v1' }, subgraph.send);
      await read(cache);
      await read(peer);
      expect(subgraph.asked).toHaveLength(1);

      await server.stop();
      subgraph.change();
      // The bump reaches neither Redis nor the peer's process: its L1 copy is all the peer has.
      await cache.invalidate([Tags.entity('Post', 'p')], 'mutation');
      const during = await read(cache);
      expect((during.data?._entities as { text: string }[])[0]?.text).toBe('text of p v1');
      expect(subgraph.asked).toHaveLength(2);

      await server.start();
      await waitForRedis(client);
      // Back: the first read after the lost bump moves the epoch, so no entry of before the outage is served.
      const after = await read(cache);
      expect((after.data?._entities as { text: string }[])[0]?.text).toBe('text of p v1');
      expect(subgraph.asked).toHaveLength(3);
    });
  });

  describe('with NATS down', () => {
    let nats: PrivateServer;
    let bus: NatsEventBus;
    beforeAll(async () => {
      nats = await startPrivateNats();
      bus = new NatsEventBus(await connectNats(nats.url, 'entity-cache-gap-test'), uniquePrefix('ecgap'), logger);
    });
    afterAll(async () => {
      await bus?.close();
      await nats?.destroy();
    });

    it('should bypass the cache while its listener is cut off and trust nothing of before once it is back', async () => {
      const prefix = `${uniquePrefix('ec')}:`;
      const cache = newCache(prefix);
      await cache.listen(bus);
      const subgraph = fakeSubgraph();
      const read = async (on: EntityCache) => {
        const response = await on.fetchEntities(
          'posts',
          request(POSTS_QUERY, 'Post', ['p']),
          { viewerId: 'v1' },
          subgraph.send,
        );
        return (response.data?._entities as { text: string }[])[0]?.text;
      };
      expect(await read(cache)).toBe('text of p v0');
      expect(await read(cache)).toBe('text of p v0');
      expect(subgraph.asked).toHaveLength(1);

      await nats.stop();
      // Cut off: every read goes to the subgraph (the listener may be missing the invalidations of this change).
      await until(async () => {
        const before = subgraph.asked.length;
        await read(cache);
        return subgraph.asked.length > before;
      });
      subgraph.change();
      expect(await read(cache)).toBe('text of p v1');

      // Its event never reached any gateway. Back on NATS, neither this process nor a fresh one (Redis) serves v0.
      await nats.start();
      await until(async () => {
        const before = subgraph.asked.length;
        expect(await read(cache)).toBe('text of p v1');
        return subgraph.asked.length === before;
      });
      expect(await read(newCache(prefix))).toBe('text of p v1');
    });
  });

  it('should let identical reads in flight share one fetch, per identity, and always send writes', async () => {
    let calls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fetcher = dedupingFetcher(
      (async () => {
        calls++;
        await gate;
        const text = '{"data":{"ok":true}}';
        return { status: 200, text: async () => text, clone: () => ({ status: 200, text: async () => text }) };
      }) as never,
      'posts',
      isWriteOperation,
    );
    const init = (claim: string, body = '{"query":"{ ok }"}') => ({
      method: 'POST',
      body,
      headers: { 'x-insta-principal-claim': claim, 'x-request-id': String(Math.random()) },
    });
    const pending = [
      fetcher('http://posts/graphql', init('ana')),
      fetcher('http://posts/graphql', init('ana')),
      fetcher('http://posts/graphql', init('bob')),
      fetcher('http://posts/graphql', init('ana', '{"query":"mutation { touch }"}')),
      fetcher('http://posts/graphql', init('ana', '{"query":"mutation { touch }"}')),
    ];
    release();
    const responses = await Promise.all(pending);
    expect(calls).toBe(4);
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(Array(5).fill('{"data":{"ok":true}}'));
  });

  it('should key a read by URL, method, headers but the request id (any case or order) and body', () => {
    const key = (headers: Record<string, string>, body = '{}', url = 'http://posts/graphql', method = 'POST') =>
      requestKey(url, method, headers, body);
    const base = key({ 'x-insta-principal-claim': 'ana', 'save-data': 'on', 'x-request-id': '1' });
    expect(key({ 'Save-Data': 'on', 'X-Request-Id': '2', 'x-insta-principal-claim': 'ana' })).toBe(base);
    expect(key({ 'x-insta-principal-claim': 'bob', 'save-data': 'on' })).not.toBe(base);
    expect(key({ 'x-insta-principal-claim': 'ana' })).not.toBe(base);
    expect(key({ 'x-insta-principal-claim': 'ana', 'save-data': 'on' }, '{"a":1}')).not.toBe(base);
    expect(key({ 'x-insta-principal-claim': 'ana', 'save-data': 'on' }, '{}', 'http://media/graphql')).not.toBe(base);
    expect(key({ 'x-insta-principal-claim': 'ana', 'save-data': 'on' }, '{}', undefined, 'GET')).not.toBe(base);
    // A body cannot pass for a header: the number of header lines comes before them.
    expect(key({ a: '1' }, 'b:2\n{}')).not.toBe(key({ a: '1', b: '2' }, '{}'));
  });
});

describe('invalidation tags', () => {
  it('should name what each mutation changes', () => {
    const tags = (query: string, variables: Record<string, unknown> = {}) => tagsForMutation(query, variables, 'me');
    expect(tags('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: 'p1' })).toEqual([
      Tags.entity('Post', 'p1'),
    ]);
    expect(tags('mutation { deletePost(id: "p1") }')).toEqual([Tags.entity('Post', 'p1'), Tags.type('Comment')]);
    expect(tags('mutation($u: ID!) { block(userId: $u) }', { u: 'x' })).toEqual([
      Tags.viewer('me'),
      Tags.viewer('x'),
      Tags.entity('User', 'me'),
      Tags.entity('User', 'x'),
    ]);
    expect(tags('mutation { updateProfile(input: { isPrivate: true }) { id } }')).toEqual([
      Tags.entity('User', 'me'),
      Tags.subgraph('posts'),
      Tags.subgraph('media'),
      Tags.subgraph('social-graph'),
    ]);
    expect(tags('mutation { updateProfile(input: { bio: "hi" }) { id } }')).toEqual([Tags.entity('User', 'me')]);
  });

  it('should name what each event changes', () => {
    expect(tagsForEvent('social.account.privacy-changed', { userId: 'u', isPrivate: true })).toEqual([
      Tags.subgraph('posts'),
      Tags.subgraph('media'),
      Tags.subgraph('social-graph'),
    ]);
    expect(tagsForEvent('media.processed', { mediaId: 'm' })).toEqual([Tags.entity('Media', 'm')]);
    expect(tagsForEvent('posts.comment.deleted', { postId: 'p', commentId: 'c', deletedCommentIds: ['r'] })).toEqual([
      Tags.entity('Post', 'p'),
      Tags.entity('Comment', 'c'),
      Tags.entity('Comment', 'r'),
    ]);
    expect(tagsForEvent('users.user.active', { userId: 'u' })).toEqual([]);
  });
});

async function waitForRedis(client: Redis) {
  for (let i = 0; i < 200; i++) {
    try {
      await client.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error('Redis did not come back');
}
