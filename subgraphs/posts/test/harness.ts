import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createPrismaClient } from '@insta/db';
import { createTestDatabase, statementCountingClient } from '@insta/db/testing';
import { loadMediaConfig, startMediaSubgraph } from '@insta/media';
import {
  connectNats,
  connectRedis,
  createInternalClient,
  createObjectStorage,
  NatsEventBus,
  RedisKeyValueStore,
  startEmbeddedObjectStore,
  type BusMessage,
  type Identity,
  type Principal,
  type RunningServer,
} from '@insta/infra';
import { postSignedGraphQL, silentLogger, testServices, TEST_SECRETS, uniquePrefix } from '@insta/infra/testing';
import {
  lateAccountSource,
  loadSocialGraphConfig,
  startSocialGraphSubgraph,
  usersAccountSource,
} from '@insta/social-graph';
import { loadUsersConfig, startUsersSubgraph } from '@insta/users';
import { POSTS_STREAM } from '@insta/events';
import { loadPostsConfig, startPostsSubgraph } from '../src/server.ts';

export interface TestUser {
  id: string;
  username: string;
  identity: Identity;
}

/**
 * The posts subgraph with the real users, social-graph and media subgraphs it asks, all on one fresh database,
 * the real Redis and NATS (one prefix, so social-graph hears the users events) and an s3rver. The posts subgraph
 * gets its own Prisma client that counts the SQL statements it sends.
 */
export async function startPostsSystem() {
  const database = await createTestDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'posts-test-'));
  const s3 = await startEmbeddedObjectStore({ directory: dir, port: 0, bucket: 'posts-test' });
  const db = createPrismaClient({ url: database.url, poolSize: 5 });
  const { client: postsDb, statements } = statementCountingClient(database.url, 5);
  const sql = {
    get count() {
      return statements.length;
    },
  };
  const kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), uniquePrefix('posts:'));
  const bus = new NatsEventBus(
    await connectNats(testServices.natsUrl, 'posts-test'),
    uniquePrefix('posts'),
    silentLogger,
  );
  const env = { ...TEST_SECRETS, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test', ...s3.env };
  const deps = { db, kv, bus, logger: silentLogger };
  const servers: RunningServer[] = [];
  // Social-graph asks users about accounts not replicated yet, media asks social-graph, users asks media: social-graph
  // starts first and is handed users once it listens.
  const usersAccounts = lateAccountSource();
  const socialServer = await startSocialGraphSubgraph({
    ...deps,
    config: loadSocialGraphConfig(env),
    accounts: usersAccounts,
  });
  servers.push(socialServer);
  const mediaConfig = loadMediaConfig({ ...env, SOCIAL_GRAPH_URL: socialServer.url });
  const mediaServer = await startMediaSubgraph({
    ...deps,
    config: mediaConfig,
    storage: createObjectStorage(mediaConfig),
  });
  servers.push(mediaServer);
  const usersServer = await startUsersSubgraph({
    ...deps,
    config: loadUsersConfig({ ...env, MEDIA_URL: mediaServer.url }),
  });
  servers.push(usersServer);
  const usersForSocial = createInternalClient(usersServer.url, TEST_SECRETS.GATEWAY_SIGNING_SECRET, {
    from: 'social-graph',
    to: 'users',
  });
  usersAccounts.bind(usersAccountSource(usersForSocial));
  const config = loadPostsConfig({
    ...env,
    USERS_URL: usersServer.url,
    SOCIAL_GRAPH_URL: socialServer.url,
    MEDIA_URL: mediaServer.url,
  });
  const postsServer = await startPostsSubgraph({ ...deps, db: postsDb, config });
  servers.push(postsServer);

  const call =
    (url: string, audience: string) =>
    <T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, principal: Principal = null) =>
      postSignedGraphQL<T>(url, { audience, principal, secret: config.GATEWAY_SIGNING_SECRET }, query, variables);
  const posts = call(postsServer.url, 'posts');
  let counter = 0;
  const events: BusMessage<Record<string, unknown>>[] = [];
  const consumer = await bus.consume<Record<string, unknown>>({
    stream: POSTS_STREAM.name,
    durable: 'posts-events-test',
    filterSubject: 'posts.>',
    maxDeliver: 1,
    handler: async (m) => void events.push(m),
  });

  return {
    db,
    bus,
    sql,
    s3,
    /** Every event published on the POSTS stream since the start. */
    events,
    eventsOf: (subject: string, match: Record<string, unknown>) =>
      events
        .filter((m) => m.subject === subject && Object.entries(match).every(([k, v]) => m.data[k] === v))
        .map((m) => m.data),
    /** A request to the posts subgraph, as the gateway would sign it. */
    request: posts,
    users: call(usersServer.url, 'users'),
    social: call(socialServer.url, 'social-graph'),
    /** Stops the social-graph subgraph (for tests of posts with a dependency down; stop() is idempotent). */
    stopSocialGraph: () => socialServer.stop(),
    media: call(mediaServer.url, 'media'),
    /** Signs a user up through the users subgraph, so the users.user.created event reaches social-graph. */
    async signUp(): Promise<TestUser> {
      const username = `u_${process.pid.toString(36)}_${++counter}_${randomUUID().slice(0, 6)}`;
      const res = await call(usersServer.url, 'users')(
        'mutation($i: SignUpInput!) { signUp(input: $i) { user { id username } } }',
        { i: { username, email: `${username}@example.com`, password: 'correct horse battery' } },
      );
      const user = res.body.data?.signUp?.user as { id: string; username: string } | undefined;
      if (!user) throw new Error(`signUp failed: ${JSON.stringify(res.body.errors)}`);
      return { ...user, identity: { userId: user.id, sessionId: randomUUID() } };
    },
    async createPost(author: TestUser, input: Record<string, unknown>): Promise<{ id: string }> {
      const res = await posts(
        'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
        { i: input },
        author.identity,
      );
      const post = res.body.data?.createPost as { id: string } | undefined;
      if (!post) throw new Error(`createPost failed: ${JSON.stringify(res.body.errors)}`);
      return post;
    },
    /** Requests an upload, POSTs the file to the object store and completes it; the media starts PROCESSING. */
    async upload(owner: TestUser, file: Uint8Array, contentType: string): Promise<string> {
      const ticket = await call(mediaServer.url, 'media')(
        'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } url fields { name value } } }',
        { i: { contentType, size: file.length } },
        owner.identity,
      );
      const { media, url, fields } = ticket.body.data!.requestUpload as {
        media: { id: string };
        url: string;
        fields: { name: string; value: string }[];
      };
      const form = new FormData();
      for (const { name, value } of fields) form.append(name, value);
      form.append('file', new Blob([file], { type: contentType }), 'upload');
      const res = await fetch(url, { method: 'POST', body: form });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`upload failed: ${res.status}`);
      const done = await call(mediaServer.url, 'media')(
        'mutation($id: ID!) { completeUpload(mediaId: $id) { id } }',
        { id: media.id },
        owner.identity,
      );
      if (done.body.errors) throw new Error(JSON.stringify(done.body.errors));
      return media.id;
    },
    async stop() {
      await consumer.stop();
      for (const server of servers.reverse()) await server.stop();
      await usersForSocial.close();
      await postsDb.$disconnect();
      await db.$disconnect();
      await kv.close();
      await bus.close();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
      await database.drop();
    },
  };
}
export type PostsSystem = Awaited<ReturnType<typeof startPostsSystem>>;
