/**
 * GraphQL subscriptions through the gateway (ADR 7), on the whole system (`startSystem`) over the real Postgres
 * (fresh database), Redis and NATS, with the measured gateway in a child process (this file, forked with
 * BENCH_SUBSCRIPTIONS_GATEWAY=1) so its memory is its own:
 *  1. like → subscriber delivery latency (from sending `likePost` to the `next` message at each subscriber) with
 *     1 000 and 5 000 concurrent `postLiked` subscriptions, one websocket each, selecting fields of users, media
 *     and posts: `{ likeCount user { username avatar { url } } post { likeCount } }`;
 *  2. RSS (and V8 heap) of the gateway process per idle subscription with 10 000 open, one websocket each
 *     (after a GC, above the same fresh process with none; measured first).
 * The subscribers are anonymous, as readers of a public post: identical subscriptions, which the gateway runs
 * once per event and fans out (a subscriber with its own identity costs its own subgraph calls per event).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createTestDatabase, prepareTemplateDatabase } from '@insta/db/testing';
import { createGatewayServer, loadGatewayConfig } from '@insta/gateway';
import { connectNats, connectRedis, NatsEventBus, RedisKeyValueStore } from '@insta/infra';
import { postGraphQL, silentLogger, TEST_SECRETS, testServices, uniquePrefix } from '@insta/infra/testing';
import { startSystem } from '../packages/embedded/src/system.ts';
import { intFromEnv, type BenchReport, type TargetResult } from './lib.ts';

const POST_LIKED =
  'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount user { username avatar { url } } post { likeCount } } }';
const CHILD_FLAG = 'BENCH_SUBSCRIPTIONS_GATEWAY';

type ChildMessage = { url: string } | { count: number } | { memory: { rss: number; heapUsed: number } };

/** The child: one gateway on the parent's subgraphs and NATS; answers "count" and "rss" over IPC. */
async function runGatewayChild() {
  const env = JSON.parse(process.env.BENCH_GATEWAY_ENV ?? '{}') as Record<string, string>;
  const prefix = env.DEPLOYMENT_PREFIX ?? '';
  const bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'subscriptions-bench'), prefix, silentLogger);
  const kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), `${prefix}:`);
  const gateway = await createGatewayServer({ config: loadGatewayConfig(env), kv, bus, logger: silentLogger });
  const send = (message: ChildMessage) => process.send?.(message);
  process.on('message', (message) => {
    if (message === 'count') send({ count: gateway.openSubscriptions() });
    if (message === 'memory') {
      globalThis.gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      send({ memory: { rss, heapUsed } });
    }
    if (message === 'stop') {
      void gateway
        .stop()
        .then(() => bus.close())
        .then(() => kv.close())
        .then(() => process.exit(0));
    }
  });
  send({ url: gateway.url });
}

if (process.env[CHILD_FLAG] === '1') await runGatewayChild();

function ask<T extends ChildMessage>(child: ChildProcess, question: string, key: keyof T): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (typeof message !== 'object' || message === null || !(key in message)) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send(question);
  });
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

function jpeg(dir: string): Promise<Buffer> {
  const out = join(dir, 'avatar.jpg');
  return new Promise<void>((resolve, reject) => {
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x320'];
    const child = spawn('ffmpeg', [...args, '-frames:v', '1', out], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  }).then(() => readFile(out));
}

export default async function subscriptionsBench(): Promise<BenchReport> {
  const sizes = [intFromEnv('BENCH_SUBSCRIPTIONS_SMALL', 1_000), intFromEnv('BENCH_SUBSCRIPTIONS_LARGE', 5_000)];
  const idle = intFromEnv('BENCH_SUBSCRIPTIONS_IDLE', 10_000);
  const likes = intFromEnv('BENCH_LIKES', 20);
  const prefix = uniquePrefix('subsbench').toLowerCase();

  const dropTemplate = await prepareTemplateDatabase();
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'subscriptions-bench-'));
  const system = await startSystem({
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: testServices.redisUrl,
      NATS_URL: testServices.natsUrl,
      PORT: '0',
      DATA_DIR: dataDir,
      DEPLOYMENT_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...TEST_SECRETS,
    },
    logger: silentLogger,
  });
  const gatewayEnv = {
    ...TEST_SECRETS,
    ...system.subgraphUrls,
    DEPLOYMENT_PREFIX: prefix,
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    PORT: '0',
    // One load generator on one address is exactly what rate limits refuse; this bench measures fan-out.
    RATE_LIMITS: 'false',
  };
  const child = fork(new URL(import.meta.url), {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, [CHILD_FLAG]: '1', BENCH_GATEWAY_ENV: JSON.stringify(gatewayEnv) },
  });
  const clients: Client[] = [];
  try {
    const { url: gatewayUrl } = await new Promise<{ url: string }>((resolve, reject) => {
      child.once('message', (message) => resolve(message as { url: string }));
      child.once('exit', (code) => reject(new Error(`gateway process exited early (code ${code})`)));
    });
    const gql = async (query: string, variables: Record<string, unknown>, token?: string) => {
      const res = await postGraphQL(
        system.gatewayUrl,
        query,
        variables,
        token ? { authorization: `Bearer ${token}` } : {},
      );
      if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
      return res.body.data as Record<string, any>;
    };
    const signUp = async (username: string) =>
      (
        await gql('mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }', {
          i: { username, email: `${username}@example.com`, password: 'a long enough password' },
        })
      ).signUp.accessToken as string;
    const author = await signUp('bench_author');
    const liker = await signUp('bench_liker');
    await setAvatar(liker);
    const postId = (await gql('mutation { createPost(input: { text: "Popular" }) { id } }', {}, author)).createPost
      .id as string;

    /** A subscription that ends (error or complete) while the bench runs is a failure. */
    const failures = { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 };
    const count = async () => (await ask<{ count: number }>(child, 'count', 'count')).count;
    /** Opens `n` sockets with one subscription each; `onEvent` gets the client index per `next`. */
    const open = async (n: number, onEvent: (index: number) => void) => {
      const opened: Client[] = [];
      for (let start = 0; start < n; start += 500) {
        const batch = Array.from({ length: Math.min(500, n - start) }, (_, i) => {
          const index = start + i;
          const client = createClient({
            url: gatewayUrl.replace(/^http/, 'ws'),
            webSocketImpl: WebSocket,
            lazy: false,
            retryAttempts: 0,
          });
          client.subscribe(
            { query: POST_LIKED, variables: { postId } },
            {
              next: () => onEvent(index),
              error: () => void failures.errors++,
              complete: () => void failures.errors++,
            },
          );
          return client;
        });
        opened.push(...batch);
        await until(async () => (await count()) >= clients.length + opened.length, 60_000, 'subscriptions to open');
      }
      clients.push(...opened);
      return opened;
    };
    const close = async (opened: Client[]) => {
      await Promise.all(opened.map((c) => c.dispose()));
      const closed = new Set(opened);
      clients.splice(0, clients.length, ...clients.filter((c) => !closed.has(c)));
      await until(async () => (await count()) === clients.length, 60_000, 'subscriptions to close');
    };

    // Memory first, on a fresh gateway process: later runs raise its RSS high-water mark.
    const memory = async () =>
      (await ask<{ memory: { rss: number; heapUsed: number } }>(child, 'memory', 'memory')).memory;
    const before = await memory();
    const idleClients = await open(idle, () => undefined);
    const after = await memory();
    await close(idleClients);

    const results: TargetResult[] = [];
    const likeMs: number[] = [];
    for (const size of sizes) {
      failures.errors = 0;
      const received = new Array<number>(size).fill(0);
      const latencies: number[] = [];
      let sentAt = 0;
      const opened = await open(size, (index) => {
        received[index] = (received[index] ?? 0) + 1;
        latencies.push(performance.now() - sentAt);
      });
      const started = performance.now();
      for (let k = 1; k <= likes; k++) {
        sentAt = performance.now();
        await gql('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, liker);
        likeMs.push(performance.now() - sentAt);
        await until(() => received.every((r) => r >= k), 30_000, `like ${k} to reach ${size} subscribers`);
        await gql('mutation($id: ID!) { unlikePost(postId: $id) { id } }', { id: postId }, liker);
      }
      const elapsedS = (performance.now() - started) / 1000;
      const sorted = latencies.sort((a, b) => a - b);
      results.push({
        target: `${size}`,
        description: `likePost → postLiked delivered to each of ${size} subscriptions (one socket each); ${likes} likes`,
        url: gatewayUrl,
        requestsPerSec: round(latencies.length / elapsedS),
        requestsTotal: latencies.length,
        latencyMs: {
          p50: round(percentile(sorted, 50)),
          p90: round(percentile(sorted, 90)),
          p99: round(percentile(sorted, 99)),
          mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
          max: round(sorted.at(-1) ?? 0),
        },
        failures: { ...failures },
      });
      await close(opened);
    }

    return {
      settings: { sizes, idle, likes, selection: POST_LIKED },
      results,
      ratios: {
        [`rssKiBPerIdleSubscription@${idle}`]: round((after.rss - before.rss) / idle / 1024, 2),
        [`heapKiBPerIdleSubscription@${idle}`]: round((after.heapUsed - before.heapUsed) / idle / 1024, 2),
        [`gatewayRssMiB@${idle}`]: round(after.rss / 2 ** 20),
        gatewayRssMiBWithout: round(before.rss / 2 ** 20),
        likeMutationMsP50: round(
          percentile(
            [...likeMs].sort((a, b) => a - b),
            50,
          ),
        ),
      },
    };
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    child.send('stop');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    await system.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
    await dropTemplate();
  }

  async function setAvatar(token: string) {
    const file = await jpeg(dataDir);
    const gqlAs = (query: string, variables: Record<string, unknown>) =>
      postGraphQL(system.gatewayUrl, query, variables, { authorization: `Bearer ${token}` }).then((r) => {
        if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
        return r.body.data as Record<string, any>;
      });
    const { requestUpload: ticket } = await gqlAs(
      'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } url fields { name value } } }',
      { i: { contentType: 'image/jpeg', size: file.length } },
    );
    const form = new FormData();
    for (const { name, value } of ticket.fields as { name: string; value: string }[]) form.append(name, value);
    form.append('file', new Blob([new Uint8Array(file)], { type: 'image/jpeg' }), 'upload');
    await (await fetch(ticket.url, { method: 'POST', body: form })).arrayBuffer();
    await gqlAs('mutation($id: ID!) { completeUpload(mediaId: $id) { id } }', { id: ticket.media.id });
    await until(
      async () =>
        (await gqlAs('query($id: ID!) { media(id: $id) { status } }', { id: ticket.media.id })).media.status ===
        'READY',
      60_000,
      'the avatar to be processed',
    );
    await gqlAs('mutation($id: ID!) { updateProfile(input: { avatarMediaId: $id }) { id } }', { id: ticket.media.id });
  }
}
