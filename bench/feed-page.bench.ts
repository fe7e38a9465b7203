/**
 * The home feed page on the deployed topology (`startTopology`: each subgraph and our gateway its own process, the
 * compiled bundles), the load generator being this process, on the real Postgres (fresh database), Redis and
 * NATS. BENCH_VIEWERS (1,000) distinct signed-in viewers, each request as the next viewer, each with a timeline of
 * their own in Redis (the newest TIMELINE_ENTRIES posts of the BENCH_FOLLOWEES (500) accounts they follow, out of
 * BENCH_FOLLOWEES + 100 authors), seeded straight into the databases and Redis.
 *
 * Targets, in alternating rounds (order reversed every other round, each after CHECKPOINT and a pause):
 *  - cache-on / cache-off: our gateway with ENTITY_CACHE=on / off (two gateway processes on the same subgraphs);
 *  - stock: @apollo/gateway defaults (stock-gateway.process.ts); hive / hive-nodedupe: Hive Gateway defaults,
 *    in-flight deduplication on / off (hive-gateway.process.ts); both add only our signed identity header;
 *  - pull: the page past each viewer's timeline, which the feed serves by the pull query over 500 followees;
 *  - ids: the ids-only page (the feed subgraph's own cost, no post fields) through our gateway;
 *  - base / ids-base, with BENCH_BASE_GATEWAY=<another build's dist/gateway.mjs>: the page and the ids-only page
 *    through that build (ENTITY_CACHE=on, same subgraphs and Redis prefix), an A/B of a gateway change in one run.
 * Only the gateways a target of BENCH_TARGETS needs are started.
 * Then cache-on again at 80% of its measured peak (autocannon overallRate): the latency there.
 * CPU per page of every process from /proc/<pid>/stat; the entity cache's hit ratio from the gateway's /metrics
 * when it exports one.
 */
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { encodeCursor, issueAccessToken } from '@insta/infra';
import { testServices } from '@insta/infra/testing';
import { freePort } from '@insta/topology';
import { answersGraphQL, startBenchTopology, SUBGRAPHS } from './bench-topology.ts';
import {
  cpuPerRequest,
  intFromEnv,
  loadDistinct,
  toTargetResult,
  type BenchReport,
  type DistinctRequest,
  type TargetResult,
} from './lib.ts';

const PAGE_FIELDS =
  'id text createdAt likeCount commentCount viewerHasLiked author { id username displayName } media { id kind width height blurhash url }';
export const FEED_PAGE_QUERY = `query FeedPage($after: String) { feed(first: 20, after: $after) { edges { cursor node { ${PAGE_FIELDS} } } pageInfo { hasNextPage endCursor } } }`;
const FEED_IDS_QUERY =
  'query FeedIds($after: String) { feed(first: 20, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }';
/** Posts in each viewer's Redis timeline: more than the feed reads for one page (42), fewer than the cap. */
const TIMELINE_ENTRIES = 100;
const POSTS_PER_AUTHOR = 2;

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

interface Viewer {
  id: string;
  token: string;
  /** The cursor of the last post of the viewer's timeline: the page after it is served by the pull query. */
  pastTimeline: string;
}

/** Mean of several rounds' figures: rates averaged, latency percentiles the median over rounds, counts summed. */
function combine(target: string, description: string, url: string, rounds: autocannon.Result[]): TargetResult {
  const each = rounds.map((r) => toTargetResult(target, description, url, r));
  const median = (pick: (r: TargetResult) => number) => each.map(pick).sort((a, b) => a - b)[each.length >> 1]!;
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

/** Sum of the counters in a Prometheus exposition whose name matches `name`. */
function counterSum(metrics: string, name: RegExp): number | null {
  let total: number | null = null;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('#')) continue;
    const [series, value] = line.split(' ');
    if (!series || value === undefined || !name.test(series.split('{')[0]!)) continue;
    total = (total ?? 0) + Number(value);
  }
  return total;
}

async function seed(sql: pg.Client, redis: Redis, prefix: string, viewers: number, followees: number) {
  const authorCount = followees + 100;
  const { rows: authors } = await sql.query<{ id: string }>(
    `INSERT INTO users.users (id, username, email, password_hash, display_name, updated_at)
     SELECT gen_random_uuid(), 'fp_author_' || i, 'fp_author_' || i || '@example.com', 'not-a-hash', 'Author ' || i, now()
     FROM generate_series(1, $1) i RETURNING id::text`,
    [authorCount],
  );
  const { rows: readers } = await sql.query<{ id: string }>(
    `INSERT INTO users.users (id, username, email, password_hash, display_name, updated_at)
     SELECT gen_random_uuid(), 'fp_viewer_' || i, 'fp_viewer_' || i || '@example.com', 'not-a-hash', 'Viewer ' || i, now()
     FROM generate_series(1, $1) i RETURNING id::text`,
    [viewers],
  );
  const authorIds = authors.map((a) => a.id);
  const viewerIds = readers.map((r) => r.id);
  await sql.query(
    `INSERT INTO social.accounts (user_id, is_private, synced_at) SELECT unnest($1::uuid[]), false, now()`,
    [[...authorIds, ...viewerIds]],
  );
  await sql.query(`INSERT INTO feed.users (user_id, last_active_at) SELECT unnest($1::uuid[]), now()`, [viewerIds]);
  // Viewer i follows the `followees` authors starting at i (mod the author count): timelines differ per viewer.
  await sql.query(
    `WITH v AS (SELECT id, ord - 1 AS i FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)),
          a AS (SELECT id, ord - 1 AS j FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, ord)),
          f AS (SELECT v.id AS follower, a.id AS followee FROM v CROSS JOIN generate_series(0, $3 - 1) k
                JOIN a ON a.j = (v.i + k) % $4),
          s AS (INSERT INTO social.follows (follower_id, followee_id) SELECT follower, followee FROM f)
     INSERT INTO feed.follows (follower_id, followee_id, active, changed_at) SELECT follower, followee, true, now() FROM f`,
    [viewerIds, authorIds, followees, authorCount],
  );
  await sql.query(
    `INSERT INTO social.user_stats (user_id, follower_count, following_count)
     SELECT followee_id, count(*), 0 FROM social.follows GROUP BY followee_id`,
  );
  // Posts, each with one READY image (owned by its author) and a variant to deliver.
  await sql.query(
    `WITH p AS (
       INSERT INTO posts.posts (id, author_id, text, created_at)
       SELECT gen_random_uuid(), a, 'post ' || n || ' of ' || a || ' #bench', now() - (random() * interval '30 days')
       FROM unnest($1::uuid[]) a, generate_series(1, $2) n
       RETURNING id, author_id, created_at),
     fp AS (INSERT INTO feed.posts (post_id, author_id, created_at) SELECT id, author_id, created_at FROM p),
     m AS (
       INSERT INTO media.media (id, owner_id, kind, status, content_type, size, object_key, width, height, blurhash, processed_at)
       SELECT gen_random_uuid(), author_id, 'IMAGE', 'READY', 'image/jpeg', 100000, 'bench/' || id || '.jpg', 1600, 1200,
              'LEHV6nWB2yk8pyo0adR*.7kCMdnj', now() FROM p
       RETURNING id, owner_id, object_key),
     v AS (
       INSERT INTO media.media_variants (media_id, name, object_key, content_type, width, height, size)
       SELECT id, 'medium', object_key || '.medium.webp', 'image/webp', 1080, 810, 50000 FROM m)
     INSERT INTO posts.post_media (post_id, media_id, position)
     SELECT p.id, m.id, 0 FROM p JOIN m ON m.object_key = 'bench/' || p.id || '.jpg'`,
    [authorIds, POSTS_PER_AUTHOR],
  );
  // Each viewer liked 5 of the posts they can see, so viewerHasLiked differs per viewer and post.
  await sql.query(
    `WITH l AS (
       INSERT INTO posts.likes (post_id, user_id)
       SELECT p.post_id, v.id FROM unnest($1::uuid[]) v(id)
       CROSS JOIN LATERAL (SELECT fp.post_id FROM feed.posts fp JOIN feed.follows f ON f.followee_id = fp.author_id
                           WHERE f.follower_id = v.id ORDER BY fp.created_at DESC LIMIT 5 OFFSET 3) p
       RETURNING post_id)
     UPDATE posts.posts SET like_count = c.n FROM (SELECT post_id, count(*) AS n FROM l GROUP BY post_id) c
     WHERE posts.posts.id = c.post_id`,
    [viewerIds],
  );
  const { rows: timeline } = await sql.query<{ viewer: string; post_id: string; t: string }>(
    `SELECT v.id::text AS viewer, p.post_id::text, p.t::text FROM unnest($1::uuid[]) v(id)
     CROSS JOIN LATERAL (
       SELECT fp.post_id, (extract(epoch FROM fp.created_at) * 1000)::bigint AS t
       FROM feed.posts fp JOIN feed.follows f ON f.followee_id = fp.author_id
       WHERE f.follower_id = v.id ORDER BY fp.created_at DESC, fp.post_id DESC LIMIT $2) p`,
    [viewerIds, TIMELINE_ENTRIES],
  );
  const last = new Map<string, { id: string; t: number }>();
  const pipeline = redis.pipeline();
  for (const row of timeline) {
    pipeline.zadd(`${prefix}:feed:tl:${row.viewer}`, Number(row.t), row.post_id);
    last.set(row.viewer, { id: row.post_id, t: Number(row.t) });
  }
  for (const id of viewerIds) pipeline.set(`${prefix}:feed:tl-built:${id}`, '1');
  await pipeline.exec();
  // The seeding wrote ~1M rows: analyze now rather than have autovacuum do it during a measurement.
  await sql.query('VACUUM ANALYZE');
  return { viewerIds, last };
}

export default async function feedPageBench(): Promise<BenchReport> {
  const viewerCount = intFromEnv('BENCH_VIEWERS', 1_000);
  const followees = intFromEnv('BENCH_FOLLOWEES', 500);
  const connections = intFromEnv('BENCH_CONNECTIONS', 20);
  const durationS = intFromEnv('BENCH_DURATION_S', 10);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 3);
  // Pages per viewer every target is asked after its timed warm-up (0: none). With 1 (the default), the entity
  // cache holds each viewer's first page before round 1, so the rounds measure its steady state (viewers coming
  // back to their feed within the cache's TTL); the pass's own rate, each viewer's first read, is reported apart.
  const warmupPasses = intFromEnv('BENCH_WARMUP_PASSES', 1);
  const rounds = intFromEnv('BENCH_ROUNDS', 3);
  const settleMs = intFromEnv('BENCH_SETTLE_MS', 1_000);
  const only = process.env.BENCH_TARGETS?.split(',');

  const metricsPort = await freePort();
  const bench = await startBenchTopology({
    env: { FEED_TIMELINE_CAP: '800' },
    gatewayEnv: { ENTITY_CACHE: 'on', METRICS_PORT: String(metricsPort) },
  });
  const sql = new pg.Client({ connectionString: bench.database.url });
  await sql.connect();
  const redis = new Redis(testServices.redisUrl);
  let viewerIds: string[] = [];
  try {
    process.stderr.write(`feed-page bench: seeding ${viewerCount} viewers × ${followees} followees\n`);
    const seeded = await seed(sql, redis, bench.prefix, viewerCount, followees);
    viewerIds = seeded.viewerIds;
    const viewers: Viewer[] = await Promise.all(
      viewerIds.map(async (id) => {
        const last = seeded.last.get(id)!;
        return {
          id,
          token: await issueAccessToken(bench.jwtSecret, { userId: id, sessionId: randomUUID() }, 24 * 3600),
          pastTimeline: encodeCursor('feed', [last.t, last.id]),
        };
      }),
    );

    const cacheOn = { url: bench.topology.gatewayUrl, pid: bench.topology.instances('gateway')[0]!.pid! };
    // Only the gateways some wanted target asks (BENCH_TARGETS): each costs a process start and its memory.
    const wanted = (...names: string[]) => !only || names.some((name) => only.includes(name));
    const notStarted = { url: '', pid: 0 };
    const cacheOff = wanted('cache-off')
      ? await bench.startGateway('gateway-cache-off', { ENTITY_CACHE: 'off' })
      : notStarted;
    const stock = wanted('stock') ? await bench.startOther('stock') : notStarted;
    const hive = wanted('hive') ? await bench.startOther('hive', { HIVE_DEDUPE: 'on' }) : notStarted;
    const hiveNoDedupe = wanted('hive-nodedupe') ? await bench.startOther('hive', { HIVE_DEDUPE: 'off' }) : notStarted;
    // A/B of a gateway change in one run: another build of our gateway (e.g. main's worktree after `npm run build`)
    // on the same subgraphs, Redis prefix and settings, its rounds alternating with ours.
    const baseBundle = process.env.BENCH_BASE_GATEWAY;
    const base =
      baseBundle && wanted('base', 'ids-base')
        ? await bench.startGateway('gateway-base', { ENTITY_CACHE: 'on' }, baseBundle)
        : notStarted;

    const page = (query: string, after: (v: Viewer) => string | null) => (n: number) => {
      const viewer = viewers[n % viewers.length]!;
      return {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
        body: JSON.stringify({ query, variables: { after: after(viewer) } }),
      } satisfies DistinctRequest;
    };
    const first = () => null;
    const targets = [
      { name: 'cache-on', gw: cacheOn, request: page(FEED_PAGE_QUERY, first), what: 'our gateway, ENTITY_CACHE=on' },
      { name: 'cache-off', gw: cacheOff, request: page(FEED_PAGE_QUERY, first), what: 'our gateway, ENTITY_CACHE=off' },
      { name: 'stock', gw: stock, request: page(FEED_PAGE_QUERY, first), what: 'stock @apollo/gateway, defaults' },
      {
        name: 'hive',
        gw: hive,
        request: page(FEED_PAGE_QUERY, first),
        what: 'Hive Gateway 2.15, defaults (dedupe on)',
      },
      {
        name: 'hive-nodedupe',
        gw: hiveNoDedupe,
        request: page(FEED_PAGE_QUERY, first),
        what: 'Hive Gateway 2.15, in-flight deduplication off',
      },
      {
        name: 'pull',
        gw: cacheOn,
        request: page(FEED_PAGE_QUERY, (v) => v.pastTimeline),
        what: `our gateway (ENTITY_CACHE=on), the page past the timeline: pull query over ${followees} followees`,
      },
      {
        name: 'ids',
        gw: cacheOn,
        request: page(FEED_IDS_QUERY, first),
        what: 'our gateway (ENTITY_CACHE=on), ids-only page (feed subgraph alone)',
      },
      ...(baseBundle
        ? [
            {
              name: 'base',
              gw: base,
              request: page(FEED_PAGE_QUERY, first),
              what: `the base build of our gateway (${baseBundle}), ENTITY_CACHE=on`,
            },
            {
              name: 'ids-base',
              gw: base,
              request: page(FEED_IDS_QUERY, first),
              what: 'the base build of our gateway, ids-only page',
            },
          ]
        : []),
    ].filter((t) => !only || only.includes(t.name));

    // Every response must be a whole page of 20 without errors; checked in full for a sample first.
    const check = (body: string) => !body.includes('"errors"') && body.includes('"pageInfo"');
    for (const target of targets) {
      for (const n of [0, 1, 2, viewers.length - 1]) {
        const { headers, body } = target.request(n);
        const text = await answersGraphQL(target.gw.url, headers, body);
        const parsed = JSON.parse(text) as { data?: { feed: { edges: unknown[] } }; errors?: unknown };
        if (parsed.errors || parsed.data?.feed.edges.length !== 20) {
          throw new Error(`${target.name}: unexpected answer ${text.slice(0, 800)}`);
        }
      }
    }
    // The same page through every gateway: the comparison is of equals.
    const sample = page(FEED_PAGE_QUERY, first)(7);
    const reference = await answersGraphQL(cacheOn.url, sample.headers, sample.body);
    for (const target of targets.filter((t) => !['pull', 'ids', 'ids-base'].includes(t.name))) {
      const { headers, body } = target.request(7);
      const text = await answersGraphQL(target.gw.url, headers, body);
      if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(JSON.parse(reference))) {
        throw new Error(`${target.name} answers differently from our gateway: ${text.slice(0, 800)}`);
      }
    }

    const pids = (gw: { pid: number }) => ({ gateway: gw.pid, ...bench.subgraphPids() });
    const scrape = async () => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      return {
        hits: counterSum(text, /entity_cache.*hits?(_total)?$/),
        misses: counterSum(text, /entity_cache.*miss(es)?(_total)?$/),
        // Fetches that went past the cache (Redis slower than its timeout or down, NATS lost).
        bypasses: counterSum(text, /entity_cache_bypasses(_total)?$/),
      };
    };
    const measured = new Map<string, { runs: autocannon.Result[]; cpuMs: Record<string, number>; requests: number }>();
    const settle = async () => {
      await sql.query('CHECKPOINT');
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    };
    /** BENCH_WARMUP_PASSES pages per viewer, as fast as the connections go (the entity cache's steady state). */
    const warmPass = (target: (typeof targets)[number]) =>
      loadDistinct({
        url: target.gw.url,
        connections,
        durationS: 0,
        amount: warmupPasses * viewers.length,
        request: target.request,
        check,
      });
    const firstPassReqPerSec: Record<string, number> = {};
    for (const target of targets) {
      process.stderr.write(`feed-page bench: ${target.name} warm-up ${warmupS} s\n`);
      await loadDistinct({ url: target.gw.url, connections, durationS: warmupS, request: target.request, check });
      if (warmupPasses > 0) {
        process.stderr.write(`feed-page bench: ${target.name} warm-up, ${warmupPasses} page(s) per viewer\n`);
        const pass = await warmPass(target);
        firstPassReqPerSec[target.name] = round(pass.requests.total / pass.duration);
      }
    }
    const cacheBefore = await scrape();
    for (let i = 0; i < rounds; i++) {
      for (const target of i % 2 === 0 ? targets : [...targets].reverse()) {
        await settle();
        process.stderr.write(`feed-page bench: round ${i + 1}/${rounds}, ${target.name} ${durationS} s\n`);
        const { result, cpuMsPerRequest } = await cpuPerRequest(
          pids(target.gw),
          () => loadDistinct({ url: target.gw.url, connections, durationS, request: target.request, check }),
          (r) => r.requests.total,
        );
        const entry = measured.get(target.name) ?? { runs: [], cpuMs: {}, requests: 0 };
        entry.runs.push(result);
        for (const [name, ms] of Object.entries(cpuMsPerRequest)) {
          entry.cpuMs[name] = (entry.cpuMs[name] ?? 0) + ms * result.requests.total;
        }
        entry.requests += result.requests.total;
        measured.set(target.name, entry);
      }
    }
    const cacheAfter = await scrape();

    const results: TargetResult[] = targets.map((t) => {
      const entry = measured.get(t.name)!;
      return {
        ...combine(t.name, t.what, t.gw.url, entry.runs),
        serverCpuMsPerRequest: round(Object.values(entry.cpuMs).reduce((a, b) => a + b, 0) / entry.requests, 3),
      };
    });
    const rate = (name: string) => results.find((r) => r.target === name)?.requestsPerSec ?? NaN;

    // Latency at 80% of the peak measured for cache-on.
    const at80: TargetResult[] = [];
    const onTarget = targets.find((t) => t.name === 'cache-on');
    if (onTarget) {
      const overallRate = Math.max(1, Math.round(rate('cache-on') * 0.8));
      // The same steady state as the rounds: the warm-up pass's entries, written minutes ago, expire together
      // (ENTITY_CACHE TTLs), and this run would measure their refill instead.
      if (warmupPasses > 0) await warmPass(onTarget);
      await settle();
      process.stderr.write(`feed-page bench: cache-on at ${overallRate} req/s (80% of peak), ${durationS} s\n`);
      const r = await loadDistinct({
        url: onTarget.gw.url,
        connections,
        durationS,
        request: onTarget.request,
        check,
        overallRate,
      });
      at80.push(toTargetResult('on@80%', `cache-on at ${overallRate} req/s (80% of its peak)`, onTarget.gw.url, r));
    }

    const cpuPerPage = Object.fromEntries(
      targets.map((t) => {
        const entry = measured.get(t.name)!;
        return [
          t.name,
          Object.fromEntries(Object.entries(entry.cpuMs).map(([p, ms]) => [p, round(ms / entry.requests, 3)])),
        ];
      }),
    );
    const hits = cacheAfter.hits !== null ? cacheAfter.hits - (cacheBefore.hits ?? 0) : null;
    const misses = cacheAfter.misses !== null ? cacheAfter.misses - (cacheBefore.misses ?? 0) : null;
    const bypasses = cacheAfter.bypasses !== null ? cacheAfter.bypasses - (cacheBefore.bypasses ?? 0) : null;
    const ratio = (a: string, b: string) => round(rate(a) / rate(b), 3);
    return {
      settings: {
        viewers: viewerCount,
        followees,
        authors: followees + 100,
        postsPerAuthor: POSTS_PER_AUTHOR,
        timelineEntries: TIMELINE_ENTRIES,
        query: FEED_PAGE_QUERY,
        idsQuery: FEED_IDS_QUERY,
        connections,
        durationS,
        warmupS,
        warmupPasses,
        rounds,
        settleMs,
        // The warm-up pass (each viewer's first page, mostly cold for the cache), after the timed warm-up.
        firstPassReqPerSec,
        reqPerSecByRound: Object.fromEntries(
          [...measured].map(([name, entry]) => [name, entry.runs.map((r) => round(r.requests.average))]),
        ),
        cpuMsPerPageByProcess: cpuPerPage,
        entityCache: {
          hits,
          misses,
          hitRatio: hits !== null && misses !== null && hits + misses > 0 ? round(hits / (hits + misses), 3) : null,
          bypasses,
        },
        layout:
          `startTopology (compiled bundles): ${SUBGRAPHS.join(', ')} and our gateway each their own process; a second ` +
          'gateway process (ENTITY_CACHE=off), the stock and Hive gateways (two: dedupe on, off) each their own ' +
          'process; autocannon in the bench process; real Postgres (fresh database), Redis, NATS',
      },
      results: [...results, ...at80],
      ratios: {
        'cache-on/stock req/s': ratio('cache-on', 'stock'),
        'cache-on/hive req/s': ratio('cache-on', 'hive'),
        'cache-on/hive-nodedupe req/s': ratio('cache-on', 'hive-nodedupe'),
        'cache-off/stock req/s': ratio('cache-off', 'stock'),
        'cache-on/cache-off req/s': ratio('cache-on', 'cache-off'),
        'timeline/pull req/s (gateway)': ratio('cache-on', 'pull'),
        'full/ids-only page req/s (gateway)': ratio('cache-on', 'ids'),
        ...(baseBundle
          ? {
              'cache-on/base req/s': ratio('cache-on', 'base'),
              // The ids-only page has no entity fetch: through our build when ids-base was not asked.
              'full/ids-only page req/s (base gateway)': ratio('base', rate('ids-base') > 0 ? 'ids-base' : 'ids'),
            }
          : {}),
        ...(at80[0] ? { 'p99 ms at 80% of peak (cache-on)': at80[0].latencyMs.p99 } : {}),
      },
    };
  } finally {
    for (let i = 0; i < viewerIds.length; i += 500) {
      const ids = viewerIds.slice(i, i + 500);
      await redis.del(...ids.flatMap((id) => [`${bench.prefix}:feed:tl:${id}`, `${bench.prefix}:feed:tl-built:${id}`]));
    }
    await redis.quit();
    await sql.end();
    await bench.stop();
  }
}
