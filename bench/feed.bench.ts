/**
 * The fan-out (issue 12), on the deployed topology (`startTopology`: every service its own process, two feed
 * processes behind HAProxy) over the real Postgres (fresh database), Redis and NATS of the machine:
 *  1. throughput: timeline inserts/s for one post to BENCH_FANOUT_FOLLOWERS (100 000) followers, with 1 and with
 *     2 feed instances (the second one stopped/started between), next to `redis-benchmark ZADD -P 16` on the same
 *     Redis, in each of BENCH_ROUNDS rounds (order of 1 and 2 reversed every other round);
 *  2. latency: createPost sent → last of 10 000 followers' timelines written;
 *  3. head-of-line: a normal author's post (50 followers) → its followers' timelines, while a 100k fan-out runs;
 *  4. broker bytes: what the streams store per post at 2 000 followers (and what is announced, not stored), with
 *     the streams' configured limits;
 *  5. recovery: kill -9 of a feed process mid-burst (2 000 followers) → every post in every timeline, from restart;
 *  6. celebrities: a post of an author with 1 000 000 followers (rows in social.follows) writes 0 follower
 *     timelines; a page (straight from the feed subgraph) that merges 5 celebrities vs one without them.
 * Followers are written straight into the databases; the posts whose fan-out is measured go through the gateway.
 * Completion is seen on `feed.items.added` (announced per batch with the users newly given the post), recovery on
 * the timelines themselves. BENCH_FEED_PARTS (comma-separated: throughput, latency, head-of-line, bytes, recovery;
 * default all) runs only some of 1-5; 6 always runs (BENCH_CELEBRITY_FOLLOWERS and BENCH_PAGE_DURATION_S shrink it).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { createTestDatabase } from '@insta/db/testing';
import { FeedSubjects, type FeedItemsAddedEvent } from '@insta/events';
import { connectNats, connectRedis, IDENTITY_HEADER, requestPath, signIdentity } from '@insta/infra';
import { postGraphQL, testServices, TEST_SECRETS, uniquePrefix } from '@insta/infra/testing';
import { startTopology } from '@insta/topology';
import type autocannon from 'autocannon';
import { intFromEnv, load, toTargetResult, type BenchReport, type TargetResult } from './lib.ts';

const PREFIX = uniquePrefix('feedbench')
  .toLowerCase()
  .replace(/[^a-z0-9_-]/g, '_');
const profileDir = process.env.BENCH_PROFILE_DIR;
const PAGE_QUERY = 'query { feed(first: 20) { edges { node { id } } pageInfo { hasNextPage endCursor } } }';

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A measured figure in the shape run.ts prints ("req/s" = the rate named in the description). */
function figure(target: string, description: string, perSec: number, total: number, latencies: number[]): TargetResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0;
  return {
    target,
    description,
    url: '-',
    requestsPerSec: round(perSec),
    requestsTotal: total,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      mean: round(mean),
      max: round(sorted.at(-1) ?? 0),
    },
    failures: { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 },
  };
}

/** ZADD to one sorted set of this run (random members), deleted by the caller; nothing else in Redis is touched. */
async function redisBenchmarkZadd(key: string, requests: number): Promise<number> {
  const url = new URL(testServices.redisUrl);
  const { stdout } = await promisify(execFile)('redis-benchmark', [
    '-h',
    url.hostname,
    '-p',
    url.port || '6379',
    '-P',
    '16',
    '-n',
    String(requests),
    '-r',
    '1000000',
    '-q',
    'ZADD',
    key,
    '__rand_int__',
    'member:__rand_int__',
  ]);
  const match = /: ([\d.]+) requests per second/.exec(stdout);
  if (!match) throw new Error(`unexpected redis-benchmark output: ${stdout}`);
  return Number(match[1]);
}

const PARTS = ['throughput', 'latency', 'head-of-line', 'bytes', 'recovery'] as const;
type Part = (typeof PARTS)[number];

function partsFromEnv(): Set<Part> {
  const raw = process.env.BENCH_FEED_PARTS;
  if (!raw) return new Set(PARTS);
  const names = raw.split(',').map((p) => p.trim());
  const unknown = names.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_FEED_PARTS: unknown ${unknown.join(', ')} (${PARTS.join(', ')})`);
  return new Set(names as Part[]);
}

export default async function feedBench(): Promise<BenchReport> {
  const parts = partsFromEnv();
  const bigFollowers = intFromEnv('BENCH_FANOUT_FOLLOWERS', 100_000);
  const latencyFollowers = intFromEnv('BENCH_LATENCY_FOLLOWERS', 10_000);
  const latencyPosts = intFromEnv('BENCH_LATENCY_POSTS', 10);
  const rounds = intFromEnv('BENCH_ROUNDS', 3);
  const zaddRequests = intFromEnv('BENCH_ZADD_REQUESTS', 300_000);
  const holFollowers = intFromEnv('BENCH_HOL_FOLLOWERS', 50);
  const holIntervalMs = intFromEnv('BENCH_HOL_INTERVAL_MS', 50);
  const bytesFollowers = intFromEnv('BENCH_BYTES_FOLLOWERS', 2_000);
  const bytesPosts = intFromEnv('BENCH_BYTES_POSTS', 20);
  const recoveryPosts = intFromEnv('BENCH_RECOVERY_POSTS', 60);
  const celebrityFollowers = intFromEnv('BENCH_CELEBRITY_FOLLOWERS', 1_000_000);
  const pageDurationS = intFromEnv('BENCH_PAGE_DURATION_S', 5);
  const pageConnections = intFromEnv('BENCH_PAGE_CONNECTIONS', 10);
  // The feed's FEED_FANOUT_BATCH / FEED_FANOUT_CONCURRENCY for this run (their defaults unless tuned).
  const fanoutBatch = intFromEnv('BENCH_FANOUT_BATCH', 1000);
  const fanoutConcurrency = intFromEnv('BENCH_FANOUT_CONCURRENCY', 4);
  const threshold = Math.max(bigFollowers, latencyFollowers, bytesFollowers) + 1;
  if (celebrityFollowers < threshold) throw new Error('BENCH_CELEBRITY_FOLLOWERS must exceed every other author');

  // The template database is run.ts's (one per bench run): dropping it here broke every bench after this one.
  const database = await createTestDatabase();
  const logDir = await mkdtemp(join(tmpdir(), 'feed-bench-'));
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  const nc = await connectNats(testServices.natsUrl, 'feed-bench');
  const redis = await connectRedis(testServices.redisUrl);
  // A topology that does not start (haproxy missing, a port taken) must not leave these open: the bench process
  // would never exit, and the bench lock with it.
  const closeClients = async () => {
    await nc.drain();
    await redis.quit();
    await sql.end();
    await database.drop();
    await rm(logDir, { recursive: true, force: true });
  };
  const topology = await startTopology({
    databaseUrl: database.url,
    redisUrl: testServices.redisUrl,
    natsUrl: testServices.natsUrl,
    prefix: PREFIX,
    logDir,
    replicas: { feed: 2 },
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...TEST_SECRETS,
      RATE_LIMITS: 'false',
      IDENTITY_MAX_SKEW_SECONDS: '3600',
    },
    serviceEnv: {
      feed: {
        FEED_CELEBRITY_FOLLOWERS: String(threshold),
        FEED_FANOUT_BATCH: String(fanoutBatch),
        FEED_FANOUT_CONCURRENCY: String(fanoutConcurrency),
      },
    },
    // BENCH_PROFILE_DIR=<dir>: every service process writes a V8 CPU profile there when it stops (as bench-topology).
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  }).catch(async (error: unknown) => {
    await closeClients();
    throw error;
  });
  const feeds = topology.instances('feed');
  const setFeedInstances = async (count: 1 | 2) => {
    if (count === 1 && feeds[1]!.running) await feeds[1]!.stop();
    if (count === 2 && !feeds[1]!.running) await feeds[1]!.start();
  };
  const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
    postGraphQL<Record<string, any>>(
      topology.gatewayUrl,
      query,
      variables,
      token ? { authorization: `Bearer ${token}` } : {},
    );
  let accounts = 0;
  const signUp = async () => {
    const username = `bench_${++accounts}`;
    const res = await gql('mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }', {
      i: { username, email: `${username}@example.com`, password: 'a long enough password' },
    });
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    return { id: res.body.data!.signUp.user.id as string, token: res.body.data!.signUp.accessToken as string };
  };

  /** Users each post reached (from feed.items.added), when the last batch was announced, bytes announced. */
  const reached = new Map<string, { count: number; lastAt: number; bytes: number }>();
  const subscription = nc.subscribe(`${PREFIX}.${FeedSubjects.itemsAdded}`, {
    callback: (_error, msg) => {
      const event = msg.json<FeedItemsAddedEvent>();
      const entry = reached.get(event.postId) ?? { count: 0, lastAt: 0, bytes: 0 };
      reached.set(event.postId, {
        count: entry.count + event.userIds.length,
        lastAt: performance.now(),
        bytes: entry.bytes + msg.data.length,
      });
    },
  });
  const timelineUsers: string[] = [];
  const zaddKey = `${PREFIX}:zadd-bench`;

  try {
    /** `count` active followers of the author in social-graph (follows, count) and in the feed's replica. */
    const withFollowers = async (authorId: string, count: number) => {
      const { rows } = await sql.query<{ id: string }>(
        `INSERT INTO social.follows (follower_id, followee_id) SELECT gen_random_uuid(), $1::uuid FROM generate_series(1, $2)
         RETURNING follower_id::text AS id`,
        [authorId, count],
      );
      const ids = rows.map((r) => r.id);
      await sql.query(
        `INSERT INTO social.user_stats (user_id, follower_count) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET follower_count = EXCLUDED.follower_count`,
        [authorId, count],
      );
      await sql.query(`INSERT INTO feed.users (user_id, last_active_at) SELECT unnest($1::uuid[]), now()`, [ids]);
      await sql.query(
        `INSERT INTO feed.follows (follower_id, followee_id, active, changed_at) SELECT unnest($1::uuid[]), $2::uuid, true, now()`,
        [ids, authorId],
      );
      timelineUsers.push(...ids);
      return ids;
    };
    const createPost = async (author: { token: string }) => {
      const res = await gql(
        'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
        { i: { text: 'bench' } },
        author.token,
      );
      if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
      return res.body.data!.createPost.id as string;
    };
    const waitReached = async (postId: string, expected: number, timeoutMs = 300_000) => {
      const deadline = Date.now() + timeoutMs;
      while ((reached.get(postId)?.count ?? 0) < expected) {
        if (Date.now() > deadline)
          throw new Error(`fan-out of ${postId} reached ${reached.get(postId)?.count ?? 0} of ${expected}`);
        await sleep(2);
      }
      return reached.get(postId)!;
    };
    /** ms from sending createPost to the last of `expected` timelines announced. */
    const postAndWait = async (author: { token: string }, expected: number) => {
      const started = performance.now();
      const postId = await createPost(author);
      return (await waitReached(postId, expected)).lastAt - started;
    };
    const streamBytes = async () => {
      const jsm = await jetstreamManager(nc);
      const streams: Record<string, { bytes: number; maxAgeS: number; maxBytes: number; discard: string }> = {};
      for await (const s of jsm.streams.list()) {
        if (!s.config.name.startsWith(`${PREFIX}_`)) continue;
        streams[s.config.name.slice(PREFIX.length + 1)] = {
          bytes: s.state.bytes,
          maxAgeS: s.config.max_age / 1e9,
          maxBytes: s.config.max_bytes,
          discard: s.config.discard,
        };
      }
      return streams;
    };

    process.stderr.write('feed bench: seeding\n');
    const big = await signUp();
    await withFollowers(big.id, bigFollowers);
    const mid = await signUp();
    await withFollowers(mid.id, latencyFollowers);
    const small = await signUp();
    await withFollowers(small.id, holFollowers);
    const medium = await signUp();
    await withFollowers(medium.id, bytesFollowers);
    const burstAuthor = await signUp();
    const burstFollowers = await withFollowers(burstAuthor.id, bytesFollowers);
    timelineUsers.push(big.id, mid.id, small.id, medium.id, burstAuthor.id);
    await sql.query('VACUUM ANALYZE');

    // 1. Throughput, 1 and 2 feed instances, next to redis-benchmark, alternating.
    const throughput: Record<'1' | '2', number[]> = { '1': [], '2': [] };
    const zadd: number[] = [];
    await postAndWait(big, bigFollowers + 1); // warm-up: plans, connections, JIT
    for (let r = 0; r < (parts.has('throughput') ? rounds : 0); r++) {
      for (const count of r % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
        await setFeedInstances(count);
        process.stderr.write(`feed bench: round ${r + 1}/${rounds}, ${bigFollowers} followers, ${count} feed\n`);
        const ms = await postAndWait(big, bigFollowers + 1);
        throughput[String(count) as '1' | '2'].push(((bigFollowers + 1) / ms) * 1000);
      }
      zadd.push(await redisBenchmarkZadd(zaddKey, zaddRequests));
    }
    await setFeedInstances(2);

    // 2. Latency to the last of 10 000 followers.
    const latencies: number[] = [];
    if (parts.has('latency')) {
      await postAndWait(mid, latencyFollowers + 1);
      for (let i = 0; i < latencyPosts; i++) latencies.push(await postAndWait(mid, latencyFollowers + 1));
    }

    // 3. Head-of-line: small posts while a 100k fan-out runs.
    const holLatencies: number[] = [];
    for (let r = 0; r < (parts.has('head-of-line') ? rounds : 0); r++) {
      const bigPost = createPost(big);
      const bigId = await bigPost;
      const pending: Promise<void>[] = [];
      while ((reached.get(bigId)?.count ?? 0) < bigFollowers + 1) {
        pending.push(postAndWait(small, holFollowers + 1).then((ms) => void holLatencies.push(ms)));
        await sleep(holIntervalMs);
      }
      await Promise.all(pending);
    }

    // 4. Broker bytes per post at 2 000 followers.
    if (parts.has('bytes')) await postAndWait(medium, bytesFollowers + 1);
    const before = await streamBytes();
    const announcedBytes: number[] = [];
    for (let i = 0; i < (parts.has('bytes') ? bytesPosts : 0); i++) {
      const postId = await createPost(medium);
      announcedBytes.push((await waitReached(postId, bytesFollowers + 1)).bytes);
    }
    const after = await streamBytes();
    const storedDelta = Object.keys(after).reduce((sum, s) => sum + after[s]!.bytes - (before[s]?.bytes ?? 0), 0);

    // 5. Recovery: kill -9 of a feed process mid-burst.
    process.stderr.write('feed bench: recovery\n');
    const burstPosts: string[] = [];
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < (parts.has('recovery') ? recoveryPosts : 0); i += 4) {
      if (i >= recoveryPosts / 3 && !restarted) {
        await feeds[0]!.kill('SIGKILL');
        restarted = feeds[0]!.start();
      }
      burstPosts.push(...(await Promise.all([0, 1, 2, 3].map(() => createPost(burstAuthor)))));
    }
    await restarted;
    const restartedAt = performance.now();
    const keys = [burstAuthor.id, ...burstFollowers].map((id) => `${PREFIX}:feed:tl:${id}`);
    let recoveryMs = parts.has('recovery') ? -1 : 0;
    for (const deadline = Date.now() + 120_000; parts.has('recovery') && Date.now() < deadline; ) {
      const cards = await redis.pipeline(keys.map((k) => ['zcard', k])).exec();
      if (cards!.every(([, n]) => n === burstPosts.length)) {
        recoveryMs = performance.now() - restartedAt;
        break;
      }
      await sleep(20);
    }
    if (recoveryMs < 0) throw new Error('recovery: timelines incomplete after 120 s');

    // 6. Celebrities: 1 000 000 followers, 0 follower timelines written; pages merging 5 of them.
    process.stderr.write(`feed bench: celebrity with ${celebrityFollowers} followers\n`);
    const celebrity = await signUp();
    await sql.query(
      `INSERT INTO social.follows (follower_id, followee_id) SELECT gen_random_uuid(), $1::uuid FROM generate_series(1, $2)`,
      [celebrity.id, celebrityFollowers],
    );
    await sql.query(
      `INSERT INTO social.user_stats (user_id, follower_count) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET follower_count = EXCLUDED.follower_count`,
      [celebrity.id, celebrityFollowers],
    );
    const celebrityPost = await createPost(celebrity);
    await waitReached(celebrityPost, 1);
    const { rows: indexed } = await sql.query<{ fanned_out: boolean }>(
      'SELECT fanned_out FROM feed.posts WHERE post_id = $1',
      [celebrityPost],
    );
    // Anything more for this post would have been announced by now (a 2 000-follower fan-out takes < 1 s).
    await sleep(2_000);
    const celebrityTimelines = reached.get(celebrityPost)!.count - 1;

    // Two readers following the same 50 accounts (2 posts each); one also follows 5 celebrities (20 posts each).
    const { rows: seeded } = await sql.query<{ plain: string; merged: string; celebs: string[] }>(
      `WITH a AS (SELECT gen_random_uuid() AS id FROM generate_series(1, 50)),
            c AS (SELECT $1::uuid AS id UNION ALL SELECT gen_random_uuid() FROM generate_series(1, 4)),
            r AS (SELECT gen_random_uuid() AS plain, gen_random_uuid() AS merged),
            u AS (INSERT INTO feed.users (user_id, last_active_at, has_pull_posts)
                  SELECT id, now(), true FROM c WHERE id <> $1::uuid
                  UNION ALL SELECT plain, now(), false FROM r UNION ALL SELECT merged, now(), false FROM r
                  ON CONFLICT (user_id) DO UPDATE SET has_pull_posts = true),
            p AS (INSERT INTO feed.posts (post_id, author_id, created_at, fanned_out)
                  SELECT gen_random_uuid(), id, now() - random() * interval '2 days', true FROM a, generate_series(1, 2)
                  UNION ALL
                  SELECT gen_random_uuid(), id, now() - random() * interval '2 days', false FROM c, generate_series(1, 20)),
            f AS (INSERT INTO feed.follows (follower_id, followee_id, active, changed_at)
                  SELECT r.plain, a.id, true, now() FROM r, a UNION ALL SELECT r.merged, a.id, true, now() FROM r, a
                  UNION ALL SELECT r.merged, c.id, true, now() FROM r, c)
       SELECT plain::text, merged::text, (SELECT array_agg(id::text) FROM c) AS celebs FROM r`,
      [celebrity.id],
    );
    await sql.query(`UPDATE feed.users SET has_pull_posts = true WHERE user_id = $1`, [celebrity.id]);
    const readers = { plain: seeded[0]!.plain, merged: seeded[0]!.merged };
    timelineUsers.push(readers.plain, readers.merged);
    await sql.query('VACUUM ANALYZE');
    const feedUrl = topology.url('feed');
    const body = JSON.stringify({ query: PAGE_QUERY });
    const headersOf = (userId: string) => ({
      'content-type': 'application/json',
      [IDENTITY_HEADER]: signIdentity(
        TEST_SECRETS.GATEWAY_SIGNING_SECRET,
        { userId, sessionId: userId },
        { audience: 'feed', path: requestPath(feedUrl), body },
      ),
    });
    const pages = { plain: [] as autocannon.Result[], merged: [] as autocannon.Result[] };
    const expected: Record<string, string> = {};
    for (const [name, userId] of Object.entries(readers)) {
      // The first read builds the timeline from Postgres; the measured ones read it.
      for (let i = 0; i < 2; i++) {
        const res = await fetch(feedUrl, { method: 'POST', headers: headersOf(userId), body });
        expected[name] = await res.text();
      }
      const edges = (JSON.parse(expected[name]!) as { data?: { feed: { edges: unknown[] } } }).data?.feed.edges;
      if (edges?.length !== 20) throw new Error(`${name} page: ${expected[name]!.slice(0, 300)}`);
      await load({
        url: feedUrl,
        connections: pageConnections,
        durationS: 2,
        headers: headersOf(userId),
        body,
        expectBody: expected[name]!,
      });
    }
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 === 0 ? (['plain', 'merged'] as const) : (['merged', 'plain'] as const)) {
        process.stderr.write(`feed bench: page round ${r + 1}/${rounds}, ${name}\n`);
        pages[name].push(
          await load({
            url: feedUrl,
            connections: pageConnections,
            durationS: pageDurationS,
            headers: headersOf(readers[name]),
            body,
            expectBody: expected[name]!,
          }),
        );
      }
    }
    const pageResult = (name: 'plain' | 'merged', description: string) => {
      const each = pages[name].map((p) => toTargetResult(name, description, feedUrl, p));
      const result = each[0]!;
      result.requestsPerSec = round(each.reduce((s, e) => s + e.requestsPerSec, 0) / each.length);
      result.requestsTotal = each.reduce((s, e) => s + e.requestsTotal, 0);
      result.latencyMs.p50 = median(each.map((e) => e.latencyMs.p50));
      result.latencyMs.p99 = median(each.map((e) => e.latencyMs.p99));
      result.failures = {
        errors: each.reduce((s, e) => s + e.failures.errors, 0),
        timeouts: each.reduce((s, e) => s + e.failures.timeouts, 0),
        non2xx: each.reduce((s, e) => s + e.failures.non2xx, 0),
        mismatches: each.reduce((s, e) => s + e.failures.mismatches, 0),
      };
      return result;
    };

    const avg = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const one = avg(throughput['1']);
    const two = avg(throughput['2']);
    const zaddPerSec = avg(zadd);
    const plain = pageResult('plain', 'feed(first: 20) from the feed subgraph: timeline of 50 followees (ids only)');
    const merged = pageResult('merged', 'the same page merging the not-fanned-out posts of 5 celebrities');
    const partOf: Record<string, Part> = {
      'fanout-1': 'throughput',
      'fanout-2': 'throughput',
      zadd: 'throughput',
      latency: 'latency',
      'head-of-line': 'head-of-line',
      recovery: 'recovery',
    };
    const allResults: TargetResult[] = [
      figure(
        'fanout-1',
        `inserts/s: one post to ${bigFollowers} followers + author, 1 feed instance`,
        one,
        bigFollowers + 1,
        [],
      ),
      figure('fanout-2', `inserts/s: the same with 2 feed instances`, two, bigFollowers + 1, []),
      figure(
        'zadd',
        `redis-benchmark -P 16 -n ${zaddRequests} ZADD (one sorted set), same Redis, ZADD/s`,
        zaddPerSec,
        zaddRequests,
        [],
      ),
      figure(
        'latency',
        `createPost sent → last of ${latencyFollowers} followers' timelines written, ms (${latencyPosts} posts)`,
        1000 / avg(latencies),
        latencyPosts,
        latencies,
      ),
      figure(
        'head-of-line',
        `createPost (${holFollowers} followers) → last timeline, ms, while a ${bigFollowers}-follower fan-out runs`,
        1000 / avg(holLatencies),
        holLatencies.length,
        holLatencies,
      ),
      figure(
        'recovery',
        `kill -9 of a feed process mid-burst of ${recoveryPosts} posts (${bytesFollowers} followers): ms from restart to every timeline complete`,
        0,
        recoveryPosts,
        [recoveryMs],
      ),
      plain,
      merged,
    ];
    // Only the parts that ran (BENCH_FEED_PARTS); the celebrity part always runs (BENCH_CELEBRITY_FOLLOWERS shrinks it).
    const results = allResults.filter((r) => !(r.target in partOf) || parts.has(partOf[r.target]!));
    return {
      settings: {
        bigFollowers,
        latencyFollowers,
        latencyPosts,
        rounds,
        holFollowers,
        holIntervalMs,
        bytesFollowers,
        bytesPosts,
        recoveryPosts,
        celebrityFollowers,
        celebrityThreshold: threshold,
        pageDurationS,
        pageConnections,
        fanoutBatch,
        fanoutConcurrencyPerInstance: fanoutConcurrency,
        parts: [...parts],
        insertsPerSecByRound: {
          '1': throughput['1'].map((n) => round(n)),
          '2': throughput['2'].map((n) => round(n)),
          zadd: zadd.map((n) => round(n)),
        },
        brokerBytes: {
          storedPerPost: round(storedDelta / bytesPosts),
          announcedPerPost: round(avg(announcedBytes)),
          streams: after,
        },
        celebrity: {
          postFannedOut: indexed[0]?.fanned_out ?? null,
          followerTimelinesWritten: celebrityTimelines,
        },
        layout:
          'startTopology (each service its own node process from dist/, feed ×2 behind HAProxy) on the shared Postgres ' +
          '(fresh database), Redis and NATS; the second feed process stopped for the 1-instance rounds; ' +
          'redis-benchmark as a child process in every round; autocannon in this process',
      },
      results,
      ratios: {
        'fanout inserts/s (1 instance) ÷ redis-benchmark ZADD/s': round(one / zaddPerSec, 3),
        'fanout inserts/s (2 instances) ÷ redis-benchmark ZADD/s': round(two / zaddPerSec, 3),
        '2 instances ÷ 1 instance': round(two / one, 3),
        'stored broker bytes per post at 2000 followers': round(storedDelta / bytesPosts),
        'page p50 merging 5 celebrities ÷ without': round(
          merged.latencyMs.p50 / Math.max(plain.latencyMs.p50, 0.001),
          3,
        ),
        'page req/s without ÷ merging 5 celebrities': round(plain.requestsPerSec / merged.requestsPerSec, 3),
      },
    };
  } finally {
    subscription.unsubscribe();
    await topology.stop();
    for (let i = 0; i < timelineUsers.length; i += 1000) {
      const ids = timelineUsers.slice(i, i + 1000);
      await redis.del(...ids.flatMap((id) => [`${PREFIX}:feed:tl:${id}`, `${PREFIX}:feed:tl-built:${id}`]));
    }
    await redis.del(zaddKey);
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) {
      if (s.config.name.startsWith(`${PREFIX}_`)) await jsm.streams.delete(s.config.name);
    }
    await closeClients();
  }
}
