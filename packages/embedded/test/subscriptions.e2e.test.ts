import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FormattedExecutionResult } from 'graphql';
import { CloseCode, createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createPrismaClient, type PrismaClient } from '@insta/db';
import { createGatewayServer, loadGatewayConfig, type GatewayServer } from '@insta/gateway';
import { NatsEventBus, RedisKeyValueStore, connectNats, connectRedis, type RunningServer } from '@insta/infra';
import { postGraphQL, silentLogger, testServices } from '@insta/infra/testing';
import { loadPostsConfig, startPostsSubgraph } from '@insta/posts';
import type { RunningSystem } from '../src/system.ts';
import { apiClient, type Account } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

type Result = FormattedExecutionResult<Record<string, any>, unknown>;

interface Subscription {
  results: Result[];
  error?: unknown;
  completed: boolean;
  stop(): void;
}

const secrets = {
  JWT_SECRET: 'subscriptions-e2e-jwt-secret-0123456789abcdef',
  GATEWAY_SIGNING_SECRET: 'subscriptions-e2e-signing-secret-0123456789ab',
};

const POST_LIKED = /* GraphQL */ `
  subscription Liked($postId: ID!) {
    postLiked(postId: $postId) {
      likeCount
      user {
        username
        avatar {
          url
        }
      }
      post {
        id
        likeCount
        author {
          username
        }
      }
    }
  }
`;

function jpeg(dir: string): Promise<Buffer> {
  const out = join(dir, 'avatar.jpg');
  return new Promise<void>((resolve, reject) => {
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x320'];
    const child = spawn('ffmpeg', [...args, '-frames:v', '1', out], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  }).then(() => readFile(out));
}

describe('subscriptions through the gateway over graphql-ws, on the real Postgres, Redis and NATS', () => {
  let dataDir: string;
  let real: RealSystem;
  let database: RealSystem['database'];
  let prefix: string;
  let system: RunningSystem;
  // Two gateways of our own (we count their open subscriptions), the second sending to a second posts process;
  // both with their own NATS and Redis connections.
  let secondDb: PrismaClient;
  let secondBus: NatsEventBus;
  let secondKv: RedisKeyValueStore;
  let secondPosts: RunningServer;
  let firstGateway: GatewayServer;
  let secondGateway: GatewayServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'insta-subscriptions-files-'));
    real = await startRealSystem('subs', secrets);
    ({ system, database, prefix } = real);
    secondDb = createPrismaClient({ url: database.url, poolSize: 2 });
    secondBus = new NatsEventBus(await connectNats(testServices.natsUrl, 'subscriptions-e2e'), prefix, silentLogger);
    secondKv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), `${prefix}:`);
    const deps = { db: secondDb, kv: secondKv, bus: secondBus, logger: silentLogger };
    secondPosts = await startPostsSubgraph({
      ...deps,
      config: loadPostsConfig({ ...secrets, ...system.subgraphUrls, PORT: '0', LOG_LEVEL: 'silent' }),
    });
    const gatewayConfig = (posts: string) =>
      loadGatewayConfig({ ...secrets, ...system.subgraphUrls, POSTS_URL: posts, PORT: '0', LOG_LEVEL: 'silent' });
    firstGateway = await createGatewayServer({ ...deps, config: gatewayConfig(system.subgraphUrls.POSTS_URL) });
    secondGateway = await createGatewayServer({ ...deps, config: gatewayConfig(secondPosts.url) });
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await firstGateway?.stop();
    await secondGateway?.stop();
    await secondPosts?.stop();
    await secondBus?.close();
    await secondKv?.close();
    await secondDb?.$disconnect();
    await real?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const { gql, signUp, createPost, like } = apiClient(() => system.gatewayUrl);

  const connect = (token?: string, gateway = firstGateway) => {
    const closes: { code: number; reason: string }[] = [];
    const client = createClient({
      url: gateway.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
      on: { closed: (event) => void closes.push(event as { code: number; reason: string }) },
    });
    clients.push(client);
    return { client, closes, gateway };
  };
  /** Subscribes; resolves once the gateway listens (or has refused it), so an event published next reaches it. */
  const subscribe = async (
    { client, gateway }: ReturnType<typeof connect>,
    query: string,
    variables: Record<string, unknown> = {},
  ) => {
    const before = gateway.openSubscriptions();
    const subscription: Subscription = { results: [], completed: false, stop: () => undefined };
    subscription.stop = client.subscribe(
      { query, variables },
      {
        next: (result) => void subscription.results.push(result as Result),
        error: (error) => (subscription.error = error),
        complete: () => (subscription.completed = true),
      },
    );
    await vi.waitFor(
      () => expect(subscription.error !== undefined || gateway.openSubscriptions() > before).toBe(true),
      { timeout: 5_000 },
    );
    return subscription;
  };

  it('should deliver postLiked to a subscriber of B’s post with fields from users, media and posts', async () => {
    const ana = await signUp('subs_ana');
    const bea = await signUp('subs_bea');
    const cyd = await signUp('subs_cyd');
    const avatar = await uploadAvatar(cyd);
    const postId = await createPost(bea, 'Morning light');
    const liked = await subscribe(connect(ana.accessToken), POST_LIKED, { postId });

    await like(cyd, postId);
    await vi.waitFor(() => expect(liked.results).toHaveLength(1), { timeout: 10_000 });
    const [event] = liked.results;
    expect(event?.errors).toBeUndefined();
    expect(event?.data?.postLiked).toEqual({
      likeCount: 1,
      user: { username: 'subs_cyd', avatar: { url: expect.stringContaining(avatar) } },
      post: { id: postId, likeCount: 1, author: { username: 'subs_bea' } },
    });
  });

  it('should deliver commentAdded with the comment’s fields resolved by posts and users', async () => {
    const ana = await signUp('subs_ann');
    const bea = await signUp('subs_ben');
    const postId = await createPost(bea, 'Comment on this');
    const comments = await subscribe(
      connect(),
      'subscription($postId: ID!) { commentAdded(postId: $postId) { text author { username } post { id } } }',
      { postId },
    );
    const other = await createPost(bea, 'Not this one');
    const add = 'mutation($i: AddCommentInput!) { addComment(input: $i) { id } }';
    await gql(add, { i: { postId: other, text: 'elsewhere' } }, ana.accessToken);
    await gql(add, { i: { postId, text: 'Lovely' } }, ana.accessToken);
    await vi.waitFor(() => expect(comments.results).toHaveLength(1), { timeout: 10_000 });
    expect(comments.results[0]).toEqual({
      data: { commentAdded: { text: 'Lovely', author: { username: 'subs_ann' }, post: { id: postId } } },
    });
  });

  it('should deliver feedUpdated when someone the subscriber follows posts', async () => {
    const ana = await signUp('subs_ada');
    const bea = await signUp('subs_bob');
    await gql('mutation($id: ID!) { follow(userId: $id) }', { id: bea.user.id }, ana.accessToken);
    // Fan-out reaches active readers: reading the feed once makes Ana one.
    await gql('{ feed(first: 1) { edges { node { id } } } }', {}, ana.accessToken);
    const feed = await subscribe(
      connect(ana.accessToken),
      'subscription { feedUpdated { id text author { username } } }',
    );
    const postId = await createPost(bea, 'Fresh from the oven');
    await vi.waitFor(() => expect(feed.results).toHaveLength(1), { timeout: 15_000 });
    expect(feed.results[0]).toEqual({
      data: { feedUpdated: { id: postId, text: 'Fresh from the oven', author: { username: 'subs_bob' } } },
    });
  });

  it('should deliver notificationReceived to the recipient only, updated as the group grows', async () => {
    const bea = await signUp('subs_nbe');
    const ana = await signUp('subs_nan');
    const cyd = await signUp('subs_ncy');
    const postId = await createPost(bea, 'Notify me');
    const selection =
      'subscription { notificationReceived { id type actorCount actors(first: 5) { username } post { id } } }';
    const mine = await subscribe(connect(bea.accessToken), selection);
    const others = await subscribe(connect(ana.accessToken), selection);
    await like(ana, postId);
    await vi.waitFor(() => expect(mine.results).toHaveLength(1), { timeout: 15_000 });
    await like(cyd, postId);
    await vi.waitFor(() => expect(mine.results).toHaveLength(2), { timeout: 15_000 });
    const [first, second] = mine.results.map((r) => r.data?.notificationReceived);
    expect(first).toMatchObject({
      type: 'LIKE',
      actorCount: 1,
      actors: [{ username: 'subs_nan' }],
      post: { id: postId },
    });
    expect(second).toMatchObject({ id: first.id, type: 'LIKE', actorCount: 2 });
    expect(second.actors.map((a: { username: string }) => a.username)).toEqual(['subs_ncy', 'subs_nan']);
    expect(others.results).toEqual([]);
  });

  it('should refuse feedUpdated to an anonymous connection with UNAUTHENTICATED', async () => {
    const feed = await subscribe(connect(), 'subscription { feedUpdated { id } }');
    expect(feed.error).toEqual([expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })]);
  });

  it('should close the socket with 4403 Forbidden for a signed-out session', async () => {
    const ana = await signUp('subs_out');
    await gql('mutation { signOut }', {}, ana.accessToken);
    const connection = connect(ana.accessToken);
    const refused = await subscribe(connection, POST_LIKED, { postId: '00000000-0000-0000-0000-000000000000' });
    expect(refused.results).toEqual([]);
    const { closes } = connection;
    await vi.waitFor(() => expect(closes).toHaveLength(1), { timeout: 5_000 });
    expect(closes[0]).toMatchObject({ code: CloseCode.Forbidden, reason: 'The session has been signed out' });
  });

  it('should close the socket of a session signed out meanwhile with 4403, before any event (ADR 16)', async () => {
    const ana = await signUp('subs_gone');
    const bea = await signUp('subs_stay');
    const postId = await createPost(bea, 'Still here');
    const connection = connect(ana.accessToken);
    const liked = await subscribe(connection, POST_LIKED, { postId });
    await gql('mutation { signOut }', {}, ana.accessToken);
    await vi.waitFor(() => expect(connection.closes).toHaveLength(1), { timeout: 10_000 });
    expect(connection.closes[0]).toMatchObject({
      code: CloseCode.Forbidden,
      reason: 'The session has been signed out',
    });
    await like(bea, postId);
    expect(liked.results).toEqual([]);
  });

  it('should apply the operation limits to subscriptions over the socket', async () => {
    const deep =
      'subscription { commentAdded(postId: "x") { post { comments { edges { node { replies { edges { node { author { posts { edges { node { id } } } } } } } } } } } } }';
    const refused = await subscribe(connect(), deep);
    expect(refused.error).toEqual([expect.objectContaining({ extensions: { code: 'OPERATION_LIMIT_EXCEEDED' } })]);
  });

  it('should deliver a private account’s likes only to subscribers who may see the post, checked per event', async () => {
    const ana = await signUp('subs_pam');
    const bea = await signUp('subs_pri');
    const cyd = await signUp('subs_pcy');
    const dee = await signUp('subs_pde');
    await gql('mutation { updateProfile(input: { isPrivate: true }) { id } }', {}, bea.accessToken);
    const postId = await createPost(bea, 'Only for my followers');
    // Social-graph learns about the privacy from an event: wait until anonymous readers no longer see the post.
    await vi.waitFor(
      async () =>
        expect(
          (await postGraphQL(system.gatewayUrl, 'query($id: ID!) { post(id: $id) { id } }', { id: postId })).body.data
            ?.post ?? null,
        ).toBeNull(),
      { timeout: 10_000 },
    );
    // No `post` in the selection: nothing but the per-event check stands between the outsider and the event.
    const likers = 'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount user { username } } }';
    const outsider = await subscribe(connect(ana.accessToken), likers, { postId });
    const owner = await subscribe(connect(bea.accessToken), likers, { postId });

    await gql('mutation($id: ID!) { follow(userId: $id) }', { id: bea.user.id }, cyd.accessToken);
    await gql('mutation($id: ID!) { approveFollowRequest(userId: $id) }', { id: cyd.user.id }, bea.accessToken);
    await like(cyd, postId);
    await vi.waitFor(() => expect(owner.results).toHaveLength(1), { timeout: 10_000 });

    await gql('mutation($id: ID!) { follow(userId: $id) }', { id: bea.user.id }, ana.accessToken);
    await gql('mutation($id: ID!) { approveFollowRequest(userId: $id) }', { id: ana.user.id }, bea.accessToken);
    await gql('mutation($id: ID!) { follow(userId: $id) }', { id: bea.user.id }, dee.accessToken);
    await gql('mutation($id: ID!) { approveFollowRequest(userId: $id) }', { id: dee.user.id }, bea.accessToken);
    await like(dee, postId);
    // Events of one subscription run in order: once Dee's like arrives, Cyd's was decided (and withheld).
    await vi.waitFor(() => expect(outsider.results).toHaveLength(1), { timeout: 10_000 });
    expect(outsider.results.map((r) => r.data?.postLiked.user.username)).toEqual(['subs_pde']);
    expect(owner.results.map((r) => r.data?.postLiked.user.username)).toEqual(['subs_pcy', 'subs_pde']);
  });

  it('should deliver a like handled by a second posts process to subscribers on both gateways', async () => {
    const ana = await signUp('subs_two');
    const bea = await signUp('subs_twb');
    const postId = await createPost(bea, 'Seen everywhere');
    const onFirst = await subscribe(connect(undefined, firstGateway), POST_LIKED, { postId });
    const onSecond = await subscribe(connect(undefined, secondGateway), POST_LIKED, { postId });
    await like(ana, postId, secondGateway.url);
    await vi.waitFor(
      () => {
        expect(onFirst.results).toHaveLength(1);
        expect(onSecond.results).toHaveLength(1);
      },
      { timeout: 10_000 },
    );
    expect(onFirst.results[0]).toEqual(onSecond.results[0]);
    expect(onFirst.results[0]?.data?.postLiked).toMatchObject({ likeCount: 1, user: { username: 'subs_two' } });
  });

  async function uploadAvatar(owner: Account): Promise<string> {
    const file = await jpeg(dataDir);
    const { requestUpload: ticket } = await gql(
      'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } url fields { name value } } }',
      { i: { contentType: 'image/jpeg', size: file.length } },
      owner.accessToken,
    );
    const form = new FormData();
    for (const { name, value } of ticket.fields as { name: string; value: string }[]) form.append(name, value);
    form.append('file', new Blob([new Uint8Array(file)], { type: 'image/jpeg' }), 'upload');
    const upload = await fetch(ticket.url, { method: 'POST', body: form });
    await upload.arrayBuffer();
    expect(upload.status).toBeLessThan(300);
    const mediaId = ticket.media.id as string;
    await gql('mutation($id: ID!) { completeUpload(mediaId: $id) { id } }', { id: mediaId }, owner.accessToken);
    await vi.waitFor(
      async () =>
        expect(
          (await gql('query($id: ID!) { media(id: $id) { status } }', { id: mediaId }, owner.accessToken)).media.status,
        ).toBe('READY'),
      { timeout: 60_000, interval: 200 },
    );
    await gql(
      'mutation($id: ID!) { updateProfile(input: { avatarMediaId: $id }) { id } }',
      { id: mediaId },
      owner.accessToken,
    );
    return mediaId;
  }
});
