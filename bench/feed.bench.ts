/**
 * The home feed, on the whole system (`startSystem`: gateway + five subgraphs in this process) over the real
 * Postgres (fresh database), Redis and NATS:
 *  1. fan-out throughput: timeline inserts per second for one post to 100 000 followers, next to
 *     `redis-benchmark -t zadd -P 16` on the same Redis;
 *  2. latency from `createPost` to the last follower's timeline, for 10 000 followers;
 *  3. feed pages (20 posts) through the gateway (fields resolved by posts and users) and straight from the feed
 *     subgraph (ids only): from the precomputed timeline, and by the pull query over the 500 accounts the reader
 *     follows (the page just past the reader's 800-entry timeline, which the feed serves by that query). The
 *     targets alternate over BENCH_ROUNDS rounds (order reversed every other round), each run after a settle step,
 *     so neither side of a ratio is measured only right after the other's load or the seeding's writes.
 * Followers, follows and the reader's posts are written straight into the databases (the bench measures the
 * feed, not sign-ups); the posts whose fan-out is measured go through the gateway.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createTestDatabase, prepareTemplateDatabase } from '@insta/db/testing';
import { FeedSubjects, type FeedItemsAddedEvent } from '@insta/events';
import { connectNats, connectRedis, encodeCursor, IDENTITY_HEADER, requestPath, signIdentity } from '@insta/infra';
import { postGraphQL, silentLogger, testServices, TEST_SECRETS } from '@insta/infra/testing';
import { startSystem } from '../packages/embedded/src/system.ts';
import { uniquePrefix } from '@insta/infra/testing';

/** Keys, subjects and durables of this run only: nothing else on the shared Redis and NATS is touched. */
const DEPLOYMENT_PREFIX = uniquePrefix('feedbench').toLowerCase();
import type autocannon from 'autocannon';
import { intFromEnv, load, toTargetResult, type BenchReport, type TargetResult } from './lib.ts';

const FEED_QUERY =
  'query($after: String) { feed(first: 20, after: $after) { edges { cursor node { id text createdAt likeCount author { id username } } } pageInfo { hasNextPage endCursor } } }';
/** The same page asked of the feed subgraph alone: its own cost, without resolving the posts' fields. */
const FEED_IDS_QUERY =
  'query($after: String) { feed(first: 20, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }';
const TIMELINE_CAP = 800;

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

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

/** The median of each latency figure over the rounds; rates are averaged, counts summed. */
function combine(target: string, description: string, url: string, rounds: autocannon.Result[]): TargetResult {
  const each = rounds.map((r) => toTargetResult(target, description, url, r));
  const median = (pick: (r: TargetResult) => number) => {
    const sorted = each.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const sum = (pick: (r: TargetResult) => number) => each.reduce((total, r) => total + pick(r), 0);
  return {
    target,
    description,
    url,
    requestsPerSec: round(sum((r) => r.requestsPerSec) / each.length),
    requestsTotal: sum((r) => r.requestsTotal),
    latencyMs: {
      p50: median((r) => r.latencyMs.p50),
      p90: median((r) => r.latencyMs.p90),
      p99: median((r) => r.latencyMs.p99),
      mean: median((r) => r.latencyMs.mean),
      max: Math.max(...each.map((r) => r.latencyMs.max)),
    },
    failures: {
      errors: sum((r) => r.failures.errors),
      timeouts: sum((r) => r.failures.timeouts),
      non2xx: sum((r) => r.failures.non2xx),
      mismatches: sum((r) => r.failures.mismatches),
    },
  };
}

/** ZADD to one sorted set of this run (random members), deleted by the caller; nothing else in Redis is touched. */
async function redisBenchmarkZadd(key: string): Promise<number> {
  const url = new URL(testServices.redisUrl);
  const { stdout } = await promisify(execFile)('redis-benchmark', [
    '-h',
    url.hostname,
    '-p',
    url.port || '6379',
    '-P',
    '16',
    '-n',
    '500000',
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

export default async function feedBench(): Promise<BenchReport> {
  const fanoutFollowers = intFromEnv('BENCH_FANOUT_FOLLOWERS', 100_000);
  const latencyFollowers = intFromEnv('BENCH_LATENCY_FOLLOWERS', 10_000);
  const latencyPosts = intFromEnv('BENCH_LATENCY_POSTS', 5);
  const followees = intFromEnv('BENCH_FOLLOWEES', 500);
  const connections = intFromEnv('BENCH_CONNECTIONS', 20);
  const durationS = intFromEnv('BENCH_DURATION_S', 10);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 3);
  const rounds = intFromEnv('BENCH_ROUNDS', 3);
  const settleMs = intFromEnv('BENCH_SETTLE_MS', 1_000);

  const dropTemplate = await prepareTemplateDatabase();
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'feed-bench-'));
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  const nc = await connectNats(testServices.natsUrl, 'feed-bench');
  const redis = await connectRedis(testServices.redisUrl);
  const system = await startSystem({
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: testServices.redisUrl,
      NATS_URL: testServices.natsUrl,
      PORT: '0',
      IDENTITY_MAX_SKEW_SECONDS: '3600',
      DATA_DIR: dataDir,
      DEPLOYMENT_PREFIX,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // One load generator on one address is exactly what rate limits refuse; this bench measures the feed.
      RATE_LIMITS: 'false',
      ...TEST_SECRETS,
      FEED_TIMELINE_CAP: String(TIMELINE_CAP),
      FEED_CELEBRITY_FOLLOWERS: String(fanoutFollowers + 1),
    },
    logger: silentLogger,
  });
  const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
    postGraphQL<Record<string, any>>(
      system.gatewayUrl,
      query,
      variables,
      token ? { authorization: `Bearer ${token}` } : {},
    );
  const signUp = async (username: string) => {
    const res = await gql('mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }', {
      i: { username, email: `${username}@example.com`, password: 'a long enough password' },
    });
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    return { id: res.body.data!.signUp.user.id as string, token: res.body.data!.signUp.accessToken as string };
  };

  /** Counts the users each post reached, from the feed.items.added events (one per written batch). */
  const reached = new Map<string, { count: number; lastAt: number }>();
  const subscription = nc.subscribe(`${DEPLOYMENT_PREFIX}.${FeedSubjects.itemsAdded}`, {
    callback: (_error, msg) => {
      const event = msg.json<FeedItemsAddedEvent>();
      const entry = reached.get(event.postId) ?? { count: 0, lastAt: 0 };
      reached.set(event.postId, { count: entry.count + event.userIds.length, lastAt: performance.now() });
    },
  });
  const timelineKeys: string[] = [];
  const zaddKey = `${DEPLOYMENT_PREFIX}:zadd-bench`;

  try {
    const withFollowers = async (authorId: string, count: number) => {
      const { rows } = await sql.query<{ id: string }>(
        `INSERT INTO social.follows (follower_id, followee_id) SELECT gen_random_uuid(), $1::uuid FROM generate_series(1, $2)
         RETURNING follower_id::text AS id`,
        [authorId, count],
      );
      await sql.query(
        `INSERT INTO social.user_stats (user_id, follower_count) VALUES ($1, $2)
                       ON CONFLICT (user_id) DO UPDATE SET follower_count = EXCLUDED.follower_count`,
        [authorId, count],
      );
      await sql.query(`INSERT INTO feed.users (user_id, last_active_at) SELECT unnest($1::uuid[]), now()`, [
        rows.map((r) => r.id),
      ]);
      timelineKeys.push(...rows.map((r) => r.id));
    };
    /** createPost through the gateway; resolves with ms from sending it to the last follower's timeline write. */
    const postAndWait = async (author: { id: string; token: string }, expected: number) => {
      const started = performance.now();
      const res = await gql(
        'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
        { i: { text: 'bench' } },
        author.token,
      );
      if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
      const committed = performance.now();
      const postId = res.body.data!.createPost.id as string;
      const deadline = Date.now() + 300_000;
      while ((reached.get(postId)?.count ?? 0) < expected) {
        if (Date.now() > deadline)
          throw new Error(`fan-out of ${postId} reached ${reached.get(postId)?.count ?? 0} of ${expected}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const last = reached.get(postId)!.lastAt;
      return { fromSend: last - started, fromResponse: last - committed };
    };

    // 1. One post to 100 000 followers.
    const big = await signUp('bench_big');
    await withFollowers(big.id, fanoutFollowers);
    const fanout = await postAndWait(big, fanoutFollowers + 1);
    const zaddPerSec = await redisBenchmarkZadd(zaddKey);
    const fanoutPerSec = ((fanoutFollowers + 1) / fanout.fromSend) * 1000;

    // 2. Post → last of 10 000 followers.
    const mid = await signUp('bench_mid');
    await withFollowers(mid.id, latencyFollowers);
    await postAndWait(mid, latencyFollowers + 1);
    const latencies: number[] = [];
    for (let i = 0; i < latencyPosts; i++) latencies.push((await postAndWait(mid, latencyFollowers + 1)).fromSend);

    // 3. A reader following 500 accounts with 2 posts each.
    const reader = await signUp('bench_reader');
    const { rows: authors } = await sql.query<{ id: string }>(
      `INSERT INTO users.users (id, username, email, password_hash, updated_at)
       SELECT gen_random_uuid(), 'bench_author_' || i, 'bench_author_' || i || '@example.com', 'not-a-hash', now() FROM generate_series(1, $1) i
       RETURNING id::text`,
      [followees],
    );
    const authorIds = authors.map((a) => a.id);
    await sql.query(
      `INSERT INTO social.accounts (user_id, is_private, synced_at) SELECT unnest($1::uuid[]), false, now()`,
      [authorIds],
    );
    await sql.query(`INSERT INTO social.follows (follower_id, followee_id) SELECT $1::uuid, unnest($2::uuid[])`, [
      reader.id,
      authorIds,
    ]);
    await sql.query(
      `INSERT INTO feed.follows (follower_id, followee_id, active, changed_at) SELECT $1::uuid, unnest($2::uuid[]), true, now()`,
      [reader.id, authorIds],
    );
    await sql.query(
      `WITH p AS (
         INSERT INTO posts.posts (id, author_id, text, created_at)
         SELECT gen_random_uuid(), a, 'post ' || n || ' of ' || a, now() - (random() * interval '30 days') FROM unnest($1::uuid[]) a, generate_series(1, 2) n
         RETURNING id, author_id, created_at)
       INSERT INTO feed.posts (post_id, author_id, created_at) SELECT id, author_id, created_at FROM p`,
      [authorIds],
    );
    timelineKeys.push(reader.id, big.id, mid.id);
    const { rows: boundary } = await sql.query<{ post_id: string; t: string }>(
      `SELECT post_id::text, (extract(epoch FROM created_at) * 1000)::bigint::text AS t FROM feed.posts
       WHERE author_id = ANY($1::uuid[]) ORDER BY created_at DESC, post_id DESC OFFSET $2 LIMIT 1`,
      [authorIds, TIMELINE_CAP - 1],
    );
    const pastTimeline = encodeCursor('feed', [Number(boundary[0]!.t), boundary[0]!.post_id]);
    // The seeding wrote ~120 000 rows: analyze now rather than have autovacuum do it during a measurement.
    await sql.query('VACUUM ANALYZE');

    const results: TargetResult[] = [
      figure(
        'fanout',
        `timeline inserts/s: one post to ${fanoutFollowers} followers + author (createPost sent → last batch written)`,
        fanoutPerSec,
        fanoutFollowers + 1,
        [fanout.fromSend],
      ),
      figure(
        'zadd',
        'redis-benchmark -P 16 -n 500000 -r 1000000 ZADD (50 clients, one sorted set), same Redis, ZADD/s',
        zaddPerSec,
        500_000,
        [],
      ),
      figure(
        'latency',
        `createPost sent → last of ${latencyFollowers} followers' timelines written, ms (${latencyPosts} posts)`,
        1000 / (latencies.reduce((a, b) => a + b, 0) / latencies.length),
        latencyPosts,
        latencies,
      ),
    ];
    const gatewayHeaders = { 'content-type': 'application/json', authorization: `Bearer ${reader.token}` };
    // The identity signature is valid for IDENTITY_MAX_SKEW_SECONDS: signed again for each load.
    const directHeaders = (body: string) => ({
      'content-type': 'application/json',
      [IDENTITY_HEADER]: signIdentity(
        TEST_SECRETS.GATEWAY_SIGNING_SECRET,
        { userId: reader.id, sessionId: reader.id },
        { audience: 'feed', path: requestPath(system.subgraphUrls.FEED_URL), body },
      ),
    });
    const via = `through the gateway (post fields from posts, authors from users)`;
    const direct = `straight to the feed subgraph (post ids only)`;
    const targets = [
      {
        name: 'timeline',
        after: null,
        url: system.gatewayUrl,
        query: FEED_QUERY,
        description: `feed(first: 20) ${via}, from the precomputed Redis timeline`,
      },
      {
        name: 'pull',
        after: pastTimeline,
        url: system.gatewayUrl,
        query: FEED_QUERY,
        description: `feed(first: 20) ${via}, by the pull query over ${followees} followees (page past the timeline)`,
      },
      {
        name: 'tl-feed',
        after: null,
        url: system.subgraphUrls.FEED_URL,
        query: FEED_IDS_QUERY,
        description: `feed(first: 20) ${direct}, from the precomputed Redis timeline`,
      },
      {
        name: 'pull-feed',
        after: pastTimeline,
        url: system.subgraphUrls.FEED_URL,
        query: FEED_IDS_QUERY,
        description: `feed(first: 20) ${direct}, by the pull query over ${followees} followees`,
      },
    ];
    const loads = [];
    for (const target of targets) {
      const body = JSON.stringify({ query: target.query, variables: { after: target.after } });
      const headersFor = () => (target.url === system.gatewayUrl ? gatewayHeaders : directHeaders(body));
      const headers = headersFor();
      const check = await fetch(target.url, { method: 'POST', headers, body });
      const expectBody = await check.text();
      const edges = (JSON.parse(expectBody) as { data?: { feed: { edges: unknown[] } } }).data?.feed.edges.length;
      if (check.status !== 200 || edges !== 20)
        throw new Error(`${target.name}: unexpected response ${check.status} ${expectBody.slice(0, 500)}`);
      loads.push({
        target,
        headersFor,
        options: { url: target.url, connections, body, expectBody },
        measured: [] as autocannon.Result[],
      });
    }
    // Dirty pages of the previous load (or of the seeding) are written out before each measurement.
    const settle = async () => {
      await sql.query('CHECKPOINT');
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    };
    for (const { target, headersFor, options } of loads) {
      process.stderr.write(`feed bench: ${target.name} warm-up ${warmupS} s\n`);
      await load({ ...options, headers: headersFor(), durationS: warmupS });
    }
    for (let i = 0; i < rounds; i++) {
      for (const entry of i % 2 === 0 ? loads : [...loads].reverse()) {
        await settle();
        process.stderr.write(`feed bench: round ${i + 1}/${rounds}, ${entry.target.name} ${durationS} s\n`);
        entry.measured.push(await load({ ...entry.options, headers: entry.headersFor(), durationS }));
      }
    }
    for (const { target, measured } of loads)
      results.push(combine(target.name, target.description, target.url, measured));

    const rate = (name: string) => results.find((r) => r.target === name)!.requestsPerSec;
    return {
      settings: {
        fanoutFollowers,
        latencyFollowers,
        latencyPosts,
        followees,
        postsPerFollowee: 2,
        timelineCap: TIMELINE_CAP,
        fanoutBatch: 1000,
        fanoutConcurrency: 4,
        connections,
        durationS,
        warmupS,
        rounds,
        settleMs,
        reqPerSecByRound: Object.fromEntries(
          loads.map((l) => [l.target.name, l.measured.map((r) => round(r.requests.average))]),
        ),
        fanoutMs: round(fanout.fromSend),
        fanoutMsFromCreatePostResponse: round(fanout.fromResponse),
        layout:
          'startSystem in this process (gateway + 5 subgraphs, NODE_ENV=production) on the real Postgres (fresh database), ' +
          'Redis and NATS; autocannon in the same process; redis-benchmark as a child process; feed targets alternated ' +
          'over the rounds, each after CHECKPOINT and an idle pause',
      },
      results,
      ratios: {
        'fanout inserts/s ÷ redis-benchmark ZADD/s': round(rate('fanout') / rate('zadd'), 3),
        'timeline/pull req/s (gateway)': round(rate('timeline') / rate('pull'), 3),
        'timeline/pull req/s (feed subgraph)': round(rate('tl-feed') / rate('pull-feed'), 3),
      },
    };
  } finally {
    subscription.unsubscribe();
    await system.stop();
    for (let i = 0; i < timelineKeys.length; i += 1000) {
      const ids = timelineKeys.slice(i, i + 1000);
      await redis.del(
        ...ids.flatMap((id) => [`${DEPLOYMENT_PREFIX}:feed:tl:${id}`, `${DEPLOYMENT_PREFIX}:feed:tl-built:${id}`]),
      );
    }
    await redis.del(zaddKey);
    await redis.quit();
    await nc.drain();
    await sql.end();
    await database.drop();
    await dropTemplate();
    await rm(dataDir, { recursive: true, force: true });
  }
}
