/**
 * GraphQL subscriptions at scale (ADR 7, ADR 15) on the deployed topology (`startTopology`: the gateway and each
 * subgraph in an OS process of its own, on the real Postgres, Redis and NATS); this process is the load generator.
 *  1. like → `next` latency (from sending `likePost` to the message at each subscriber) with N subscriptions of
 *     `postLiked { likeCount user { username } post { likeCount } }`, one socket each, signed in as N DISTINCT
 *     users and anonymous, N = 1 000 and 5 000: both populations open at once on two posts of one author, likes
 *     alternating between them (same run, same load), so their ratio compares like with like;
 *  2. a mix: M signed-in `notificationReceived` subscribers (each their own), while likes land at R/s on posts of
 *     100 of them: delivery p99 (from the like, from the notification write, and from the event on NATS, heard by
 *     this process too: the gateway's share), and the gateway's CPU time per delivered event (/proc/<pid>/stat);
 *     gateway CPU figures include serving the like mutations themselves, which go through the gateway;
 *  3. RSS of the gateway process per idle socket (one subscription each) with I open, above the same fresh process.
 * Users and sessions are written straight into the databases (sign-up hashes passwords: minutes for 5 000) and their
 * access tokens issued with the topology's JWT secret. Sizes via env (quick mode: BENCH_SUBSCRIPTIONS_QUICK=1);
 * BENCH_SUBSCRIPTIONS_PARTS=likes,mix,idle (default all three) runs only some of the parts.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { createTestDatabase } from '@insta/db/testing';
import { FeedSubjects, type NotificationUpsertedEvent } from '@insta/events';
import { connectNats, issueAccessToken, NatsEventBus } from '@insta/infra';
import { postGraphQL, silentLogger, TEST_SECRETS, testServices, uniquePrefix } from '@insta/infra/testing';
import { freePort, startTopology } from '@insta/topology';
import { intFromEnv, loadAverage, type BenchReport, type TargetResult } from './lib.ts';
import { SubscriberProcesses } from './subscribers.ts';

const POST_LIKED =
  'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount user { username } post { likeCount } } }';
const NOTIFICATIONS = 'subscription { notificationReceived { id actorCount updatedAt } }';
const CLOCK_TICKS = 100;

interface BenchUser {
  id: string;
  token: string;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    max: round(sorted.at(-1) ?? 0),
  };
};

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * How often the gateway's /metrics is read while waiting for sockets to open or close (it no longer exports the
 * default collectors that walk every handle, which with 10,000 sockets made each read real work).
 */
const METRICS_POLL_MS = 100;

/** utime + stime of a process, in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** N users, one session each, straight into users and social-graph's replica (public accounts). */
async function createUsers(databaseUrl: string, n: number, tag: string): Promise<BenchUser[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const users: BenchUser[] = [];
  try {
    for (let start = 0; start < n; start += 1000) {
      const ids = Array.from({ length: Math.min(1000, n - start) }, () => randomUUID());
      const sessions = ids.map(() => randomUUID());
      const names = ids.map((_, i) => `b${tag}_${start + i}`);
      await db.query(
        `INSERT INTO users.users (id, username, email, password_hash, updated_at)
         SELECT id, name, name || '@bench.invalid', 'x', now() FROM unnest($1::uuid[], $2::text[]) AS t(id, name)`,
        [ids, names],
      );
      await db.query(
        `INSERT INTO users.sessions (id, user_id, expires_at)
         SELECT s, u, now() + interval '1 day' FROM unnest($1::uuid[], $2::uuid[]) AS t(s, u)`,
        [sessions, ids],
      );
      await db.query(
        `INSERT INTO social.accounts (user_id, is_private, synced_at) SELECT u, false, now() FROM unnest($1::uuid[]) AS t(u)`,
        [ids],
      );
      for (let i = 0; i < ids.length; i++) {
        const token = await issueAccessToken(
          TEST_SECRETS.JWT_SECRET,
          { userId: ids[i]!, sessionId: sessions[i]! },
          3600,
        );
        users.push({ id: ids[i]!, token });
      }
    }
  } finally {
    await db.end();
  }
  return users;
}

const PARTS = ['likes', 'mix', 'idle'] as const;

/** BENCH_SUBSCRIPTIONS_PARTS: a comma-separated subset of PARTS. */
function partsFromEnv(): Set<(typeof PARTS)[number]> {
  const raw = process.env.BENCH_SUBSCRIPTIONS_PARTS;
  if (!raw) return new Set(PARTS);
  const names = raw.split(',').map((p) => p.trim());
  const unknown = names.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`BENCH_SUBSCRIPTIONS_PARTS: unknown ${unknown.join(', ')} (${PARTS.join(', ')})`);
  return new Set(names as (typeof PARTS)[number][]);
}

export default async function subscriptionsBench(): Promise<BenchReport> {
  const parts = partsFromEnv();
  const quick = process.env.BENCH_SUBSCRIPTIONS_QUICK === '1';
  const sizes = [
    intFromEnv('BENCH_SUBSCRIPTIONS_SMALL', quick ? 200 : 1_000),
    intFromEnv('BENCH_SUBSCRIPTIONS_LARGE', quick ? 500 : 5_000),
  ];
  const likes = intFromEnv('BENCH_LIKES', quick ? 6 : 20);
  const idle = intFromEnv('BENCH_SUBSCRIPTIONS_IDLE', quick ? 1_000 : 10_000);
  const mixSubscribers = intFromEnv('BENCH_MIX_SUBSCRIBERS', quick ? 500 : 5_000);
  const mixRate = intFromEnv('BENCH_MIX_LIKES_PER_SECOND', 50);
  const mixSeconds = intFromEnv('BENCH_MIX_SECONDS', quick ? 4 : 20);
  const mixAuthors = Math.min(100, mixSubscribers);
  const prefix = uniquePrefix('subsbench')
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_');

  const database = await createTestDatabase();
  const metricsPort = await freePort();
  const topology = await startTopology({
    databaseUrl: database.url,
    redisUrl: testServices.redisUrl,
    natsUrl: testServices.natsUrl,
    prefix,
    logDir: join(tmpdir(), `${prefix}-logs`),
    env: { NODE_ENV: 'production', LOG_LEVEL: 'warn', ...TEST_SECRETS },
    // BENCH_PROFILE_DIR: a CPU profile of every service process, written when the topology stops.
    ...(process.env.BENCH_PROFILE_DIR
      ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] }
      : {}),
    // One load generator on one address is exactly what rate limits and the per-address connection cap refuse
    // (ADR 16); this bench measures fan-out.
    serviceEnv: {
      gateway: {
        RATE_LIMITS: 'false',
        REALTIME_MAX_CONNECTIONS_PER_IP: '0',
        REALTIME_MAX_CONNECTIONS_PER_USER: '0',
        METRICS_PORT: String(metricsPort),
      },
    },
  });
  const gateway = topology.instances('gateway')[0]!;
  const gatewayPid = gateway.pid!;
  const wsUrl = topology.gatewayUrl.replace(/^http/, 'ws');
  const clients: Client[] = [];
  // The like phase's subscribers, in processes of their own (one per core by default): see subscribers.ts.
  const receivers = SubscriberProcesses.start(intFromEnv('BENCH_SUBSCRIBER_PROCESSES', availableParallelism()));
  const failures = { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 };
  try {
    const gql = async (query: string, variables: Record<string, unknown>, token?: string) => {
      const res = await postGraphQL(
        topology.gatewayUrl,
        query,
        variables,
        token ? { authorization: `Bearer ${token}` } : {},
      );
      if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
      return res.body.data as Record<string, any>;
    };
    /** Open subscriptions, from the gateway's `gateway_subscriptions` gauge. */
    const openCount = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      let total = 0;
      for (const line of text.split('\n'))
        if (line.startsWith('gateway_subscriptions{')) total += Number(line.split(' ').at(-1));
      return total;
    };
    const open = async (
      n: number,
      subscription: (index: number) => { query: string; variables?: Record<string, unknown>; token?: string },
      onEvent: (index: number, data: Record<string, any> | null | undefined) => void,
    ) => {
      const before = await openCount();
      const opened: Client[] = [];
      for (let start = 0; start < n; start += 500) {
        for (let index = start; index < Math.min(n, start + 500); index++) {
          const { query, variables, token } = subscription(index);
          const client = createClient({
            url: wsUrl,
            webSocketImpl: WebSocket,
            lazy: false,
            retryAttempts: 0,
            ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
          });
          client.subscribe(
            { query, variables: variables ?? {} },
            {
              next: (result) => onEvent(index, result.data as Record<string, any> | null | undefined),
              error: () => void failures.errors++,
              complete: () => undefined,
            },
          );
          opened.push(client);
        }
        await until(
          async () => (await openCount()) >= before + opened.length,
          120_000,
          'subscriptions to open',
          METRICS_POLL_MS,
        );
      }
      clients.push(...opened);
      return opened;
    };
    const close = async (opened: Client[]) => {
      await Promise.all(opened.map((c) => c.dispose()));
      const closed = new Set(opened);
      clients.splice(0, clients.length, ...clients.filter((c) => !closed.has(c)));
      await until(
        async () => (await openCount()) === clients.length,
        60_000,
        'subscriptions to close',
        METRICS_POLL_MS,
      );
    };

    // 3 first, on the fresh gateway process: later phases raise its RSS high-water mark.
    const users = await createUsers(database.url, Math.max(sizes[1]!, mixSubscribers) + 1, 'u');
    const [author, ...viewers] = users as [BenchUser, ...BenchUser[]];
    const liker = viewers[viewers.length - 1]!;
    const idlePost = (await gql('mutation { createPost(input: { text: "Quiet" }) { id } }', {}, author.token))
      .createPost.id as string;
    const rssBefore = await rssBytes(gatewayPid);
    let rssAfter = rssBefore;
    if (parts.has('idle')) {
      const idleClients = await open(
        idle,
        () => ({ query: POST_LIKED, variables: { postId: idlePost } }),
        () => undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      rssAfter = await rssBytes(gatewayPid);
      await close(idleClients);
    }

    // 1: signed-in and anonymous populations at once, likes alternating between their posts.
    const results: TargetResult[] = [];
    const ratios: Record<string, number> = {};
    const signedPost = (await gql('mutation { createPost(input: { text: "Popular" }) { id } }', {}, author.token))
      .createPost.id as string;
    const anonymousPost = (
      await gql('mutation { createPost(input: { text: "Popular too" }) { id } }', {}, author.token)
    ).createPost.id as string;
    for (const size of parts.has('likes') ? sizes : []) {
      failures.errors = 0;
      const latencies = { signed: [] as number[], anonymous: [] as number[] };
      const groups = { signed: `signed-${size}`, anonymous: `anonymous-${size}` };
      for (const kind of ['signed', 'anonymous'] as const) {
        const before = await openCount();
        for (let start = 0; start < size; start += 500) {
          const batch = Array.from({ length: Math.min(500, size - start) }, (_, j) => ({
            query: POST_LIKED,
            variables: { postId: kind === 'signed' ? signedPost : anonymousPost },
            ...(kind === 'signed' ? { token: viewers[start + j]!.token } : {}),
          }));
          await receivers.open(groups[kind], wsUrl, batch);
          const want = before + start + batch.length;
          await until(async () => (await openCount()) >= want, 120_000, 'subscriptions to open', METRICS_POLL_MS);
        }
      }
      const cpuStart = await cpuMs(gatewayPid);
      // Per like: when the first and the last subscriber had it (the pipeline to the gateway, then the fan-out).
      const firstAndLast = { signed: [] as [number, number][], anonymous: [] as [number, number][] };
      // How busy the receiving processes were while likes were delivered: near 1, the load generator is the limit.
      let receiverCpu = 0;
      let wall = 0;
      for (let k = 1; k <= likes; k++) {
        for (const kind of ['signed', 'anonymous'] as const) {
          const postId = kind === 'signed' ? signedPost : anonymousPost;
          const cpuBefore = await receivers.cpuMs();
          const sentAt = performance.timeOrigin + performance.now();
          await gql('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, liker.token);
          const { at, errors } = await receivers.received(groups[kind], k, 60_000);
          wall += performance.timeOrigin + performance.now() - sentAt;
          receiverCpu += (await receivers.cpuMs()) - cpuBefore;
          failures.errors += errors;
          const these = at.map((t) => t - sentAt);
          latencies[kind].push(...these);
          firstAndLast[kind].push([Math.min(...these), Math.max(...these)]);
          await gql('mutation($id: ID!) { unlikePost(postId: $id) { id } }', { id: postId }, liker.token);
        }
      }
      const cpu = (await cpuMs(gatewayPid)) - cpuStart;
      ratios[`loadGeneratorCpuShare@${size}`] = round(receiverCpu / Math.max(1, wall * receivers.size), 2);
      for (const kind of ['signed', 'anonymous'] as const) {
        const pairs = firstAndLast[kind];
        ratios[`${kind}FirstDeliveryMeanMs@${size}`] = round(pairs.reduce((a, [f]) => a + f, 0) / pairs.length);
        ratios[`${kind}FanOutSpreadMeanMs@${size}`] = round(pairs.reduce((a, [f, l]) => a + l - f, 0) / pairs.length);
      }
      for (const kind of ['signed', 'anonymous'] as const) {
        results.push({
          target: `${kind}-${size}`,
          description: `likePost → postLiked at each of ${size} ${kind === 'signed' ? 'signed-in (distinct users)' : 'anonymous'} subscriptions (one socket each); ${likes} likes`,
          url: topology.gatewayUrl,
          requestsPerSec: 0,
          requestsTotal: latencies[kind].length,
          latencyMs: summary(latencies[kind]),
          failures: { ...failures },
        });
      }
      const signed = summary(latencies.signed);
      const anonymous = summary(latencies.anonymous);
      ratios[`p99SignedOverAnonymous@${size}`] = round(signed.p99 / Math.max(0.1, anonymous.p99), 2);
      ratios[`p50SignedOverAnonymous@${size}`] = round(signed.p50 / Math.max(0.1, anonymous.p50), 2);
      ratios[`gatewayCpuMsPerDelivery@${size}`] = round(
        cpu / (latencies.signed.length + latencies.anonymous.length),
        3,
      );
      for (const group of Object.values(groups)) await receivers.close(group);
      await until(
        async () => (await openCount()) === clients.length,
        60_000,
        'subscriptions to close',
        METRICS_POLL_MS,
      );
    }

    const mixRatios: Record<string, number> = {};
    if (parts.has('mix')) {
      // 2: notificationReceived, each subscriber their own; likes at mixRate/s on posts of the first mixAuthors.
      const mixUsers = viewers.slice(0, mixSubscribers);
      const authors = mixUsers.slice(0, mixAuthors);
      const posts: string[] = [];
      for (const a of authors) {
        posts.push(
          (await gql('mutation { createPost(input: { text: "Mine" }) { id } }', {}, a.token)).createPost.id as string,
        );
      }
      const sent = new Map<number, number[]>();
      const mixLatencies: number[] = [];
      const fromUpsert: number[] = [];
      // The same events as the gateway hears them, heard here too: delivery minus arrival is the gateway's share.
      const busHeard = new Map<string, number>();
      const fromBus: number[] = [];
      const bus = new NatsEventBus(
        await connectNats(testServices.natsUrl, 'subscriptions-bench'),
        prefix,
        silentLogger,
      );
      const heard = await bus.subscribe<NotificationUpsertedEvent>(FeedSubjects.notificationUpserted);
      void (async () => {
        for await (const event of heard) {
          busHeard.set(`${event.data.notificationId}:${event.data.actorCount}`, performance.now());
        }
      })();
      let delivered = 0;
      const mixClients = await open(
        mixSubscribers,
        (i) => ({ query: NOTIFICATIONS, token: mixUsers[i]!.token }),
        (i, data) => {
          delivered++;
          const at = sent.get(i)?.shift();
          if (at !== undefined) mixLatencies.push(performance.now() - at);
          // From the notification's write in feed (the event's updatedAt): the bus and the gateway alone.
          const notification = data?.notificationReceived as { id: string; actorCount: number; updatedAt: string };
          const updatedAt = Date.parse(notification?.updatedAt ?? '');
          if (!Number.isNaN(updatedAt)) fromUpsert.push(Date.now() - updatedAt);
          const onBus = busHeard.get(`${notification?.id}:${notification?.actorCount}`);
          if (onBus !== undefined) fromBus.push(performance.now() - onBus);
        },
      );
      const total = mixRate * mixSeconds;
      const likers = mixUsers.slice(mixAuthors);
      const mixCpuStart = await cpuMs(gatewayPid);
      const started = performance.now();
      const inFlight: Promise<unknown>[] = [];
      // A like the posts subgraph refuses (an overloaded box) is no event: counted apart, not a subscription failure.
      let likesRefused = 0;
      for (let n = 0; n < total; n++) {
        const due = started + (n * 1000) / mixRate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const a = n % mixAuthors;
        const who = likers[Math.floor(n / mixAuthors) % Math.max(1, likers.length)] ?? liker;
        const list = sent.get(a) ?? [];
        sent.set(a, list);
        list.push(performance.now());
        inFlight.push(
          gql('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: posts[a] }, who.token).catch(() => {
            likesRefused++;
            sent.get(a)?.pop();
          }),
        );
      }
      await Promise.all(inFlight);
      await until(() => delivered >= total - likesRefused, 60_000, 'the mix notifications').catch(
        () => void failures.timeouts++,
      );
      const mixCpu = (await cpuMs(gatewayPid)) - mixCpuStart;
      results.push({
        target: `mix-${mixSubscribers}`,
        description: `notificationReceived at ${mixSubscribers} signed-in subscribers (each their own), ${mixRate} likes/s for ${mixSeconds} s on posts of ${mixAuthors} of them`,
        url: topology.gatewayUrl,
        requestsPerSec: round(delivered / ((performance.now() - started) / 1000)),
        requestsTotal: delivered,
        latencyMs: summary(mixLatencies),
        serverCpuMsPerRequest: round(mixCpu / Math.max(1, delivered), 3),
        failures: { ...failures, mismatches: Math.max(0, total - likesRefused - delivered) },
      });
      results.push({
        target: `mix-gateway-${mixSubscribers}`,
        description: 'the same deliveries, from the event heard on NATS (by this process too) to the `next` message',
        url: topology.gatewayUrl,
        requestsPerSec: 0,
        requestsTotal: fromBus.length,
        latencyMs: summary(fromBus),
        failures: { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 },
      });
      heard.unsubscribe();
      await bus.close();
      const upsert = summary(fromUpsert);
      results.push({
        target: `mix-from-upsert-${mixSubscribers}`,
        description:
          'the same deliveries, from the notification written in feed (event updatedAt) to the `next` message',
        url: topology.gatewayUrl,
        requestsPerSec: 0,
        requestsTotal: fromUpsert.length,
        latencyMs: upsert,
        failures: { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 },
      });
      await close(mixClients);
      mixRatios.mixGatewayCpuMsPerDeliveredEvent = round(mixCpu / Math.max(1, delivered), 3);
      mixRatios.mixLikesSent = total;
      mixRatios.mixLikesRefusedByPosts = likesRefused;
    }

    return {
      settings: {
        sizes,
        likes,
        idle,
        mix: { subscribers: mixSubscribers, likesPerSecond: mixRate, seconds: mixSeconds, authors: mixAuthors },
        selection: POST_LIKED,
        parts: [...parts],
        topology: 'startTopology: gateway and each subgraph their own process; this process generates load',
        likeSubscriberProcesses: receivers.size,
        loadAverageAtEnd: loadAverage(),
      },
      results,
      ratios: {
        ...ratios,
        ...(parts.has('idle')
          ? {
              [`rssKiBPerIdleSocket@${idle}`]: round((rssAfter - rssBefore) / idle / 1024, 2),
              gatewayRssMiBFresh: round(rssBefore / 2 ** 20),
              [`gatewayRssMiB@${idle}`]: round(rssAfter / 2 ** 20),
            }
          : {}),
        ...mixRatios,
      },
    };
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    receivers.stop();
    await topology.stop();
    await database.drop();
  }
}
