/**
 * One account with 1,000,000 followers: the time to read every follower id through the internal `followerIds`
 * reader (what the feed fan-out does), and `followers(first: 50)` latency on the first page vs. a page 900,000
 * followers deep (keyset pagination: should be about equal). The subgraph runs in this process over a fresh
 * Postgres database; the load generator (autocannon) too.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createPrismaClient } from '@insta/db';
import { createTestDatabase } from '@insta/db/testing';
import {
  createInternalClient,
  IDENTITY_HEADER,
  MemoryEventBus,
  MemoryKeyValueStore,
  requestPath,
  signIdentity,
  type RunningServer,
} from '@insta/infra';
import { silentLogger, TEST_SECRETS } from '@insta/infra/testing';
import { Lists, listCursor } from '../subgraphs/social-graph/src/cursors.ts';
import { loadSocialGraphConfig, startSocialGraphSubgraph } from '../subgraphs/social-graph/src/server.ts';
import { intFromEnv, load, toTargetResult, type BenchReport, type TargetResult } from './lib.ts';

const FOLLOWERS_QUERY = `query($r: [_Any!]!, $after: String) { _entities(representations: $r) { ... on User {
  followers(first: 50, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } } }`;
const IDS_QUERY = `query($u: ID!, $first: Int, $after: String) {
  followerIds(userId: $u, first: $first, after: $after) { ids endCursor hasNextPage } }`;

const adminUrl = () => process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * 1M follow rows in one INSERT ... SELECT generate_series; two followers share each millisecond, so the id
 * tie-breaker is exercised too. VACUUM sets the visibility map, as autovacuum would on a live table.
 */
async function seed(databaseUrl: string, celebId: string, followers: number) {
  return withClient(databaseUrl, async (client) => {
    await client.query('SET synchronous_commit = off');
    await client.query(`INSERT INTO social.accounts (user_id, is_private, synced_at) VALUES ($1, false, now())`, [
      celebId,
    ]);
    await client.query(
      `INSERT INTO social.follows (follower_id, followee_id, created_at)
       SELECT gen_random_uuid(), $1::uuid, timestamptz '2026-01-01' + (i / 2) * interval '1 ms'
       FROM generate_series(1, $2::int) AS i`,
      [celebId, followers],
    );
    await client.query(`INSERT INTO social.user_stats (user_id, follower_count, following_count) VALUES ($1, $2, 0)`, [
      celebId,
      followers,
    ]);
    await client.query('VACUUM ANALYZE social.follows');
  });
}

/** The row `depth` followers into the list (newest first): OFFSET here only to find a deep cursor once. */
async function rowAtDepth(databaseUrl: string, celebId: string, depth: number) {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ id: string; created_at: Date }>(
      `SELECT follower_id::text AS id, created_at FROM social.follows WHERE followee_id = $1
       ORDER BY created_at DESC, follower_id DESC OFFSET $2 LIMIT 1`,
      [celebId, depth - 1],
    );
    return { id: rows[0]!.id, createdAt: rows[0]!.created_at };
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round2 = (n: number) => Math.round(n * 100) / 100;

/** Reads every follower id through the internal GraphQL reader, as the feed fan-out does. */
async function readAllFollowerIds(url: string, celebId: string, pageSize: number) {
  const client = createInternalClient(url, TEST_SECRETS.GATEWAY_SIGNING_SECRET, { from: 'feed', to: 'social-graph' });
  try {
    const pageMs: number[] = [];
    const seen = new Set<string>();
    let after: string | null = null;
    const started = performance.now();
    for (;;) {
      const t0 = performance.now();
      const { followerIds: page }: { followerIds: { ids: string[]; endCursor: string | null; hasNextPage: boolean } } =
        await client.query(IDS_QUERY, { u: celebId, first: pageSize, after });
      pageMs.push(performance.now() - t0);
      for (const id of page.ids) seen.add(id);
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    return { totalMs: performance.now() - started, pageMs, distinct: seen.size };
  } finally {
    await client.close();
  }
}

export default async function socialGraphBench(): Promise<BenchReport> {
  const followers = intFromEnv('BENCH_FOLLOWERS', 1_000_000);
  const idPage = intFromEnv('BENCH_ID_PAGE', 5000);
  const depth = Math.floor(followers * 0.9);
  const connections = intFromEnv('BENCH_CONNECTIONS', 8);
  const durationS = intFromEnv('BENCH_DURATION_S', 10);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 3);
  const database = await createTestDatabase();
  const db = createPrismaClient({ url: database.url, poolSize: 10 });
  const bus = new MemoryEventBus('bench', silentLogger);
  const kv = new MemoryKeyValueStore('bench:');
  let server: RunningServer | undefined;
  try {
    const celebId = randomUUID();
    process.stderr.write(`social-graph bench: seeding ${followers} followers\n`);
    const seedStarted = performance.now();
    await seed(database.url, celebId, followers);
    const seedS = round2((performance.now() - seedStarted) / 1000);

    server = await startSocialGraphSubgraph({
      // The load generator signs the identity header once per run, so allow it to age.
      config: loadSocialGraphConfig({
        ...TEST_SECRETS,
        NODE_ENV: 'production',
        LOG_LEVEL: 'silent',
        PORT: '0',
        IDENTITY_MAX_SKEW_SECONDS: '3600',
      }),
      db,
      kv,
      bus,
      logger: silentLogger,
    });

    process.stderr.write(`social-graph bench: reading all follower ids (cold, then warm)\n`);
    const cold = await readAllFollowerIds(server.url, celebId, idPage);
    const warm = await readAllFollowerIds(server.url, celebId, idPage);
    for (const run of [cold, warm]) {
      if (run.distinct !== followers)
        throw new Error(`followerIds returned ${run.distinct} distinct ids, expected ${followers}`);
    }
    const sortedPages = [...warm.pageMs].sort((a, b) => a - b);
    const idsResult: TargetResult = {
      target: 'ids',
      description: `followerIds(first: ${idPage}) through createInternalClient, all ${followers} ids, one page after another (warm run)`,
      url: server.url,
      requestsPerSec: round2(warm.pageMs.length / (warm.totalMs / 1000)),
      requestsTotal: warm.pageMs.length,
      latencyMs: {
        p50: round2(percentile(sortedPages, 50)),
        p90: round2(percentile(sortedPages, 90)),
        p99: round2(percentile(sortedPages, 99)),
        mean: round2(warm.totalMs / warm.pageMs.length),
        max: round2(sortedPages.at(-1)!),
      },
      failures: { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 },
    };

    const viewer = { userId: randomUUID(), sessionId: randomUUID() };
    const headersFor = (body: string) => ({
      'content-type': 'application/json',
      [IDENTITY_HEADER]: signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, viewer, {
        audience: 'social-graph',
        path: requestPath(server!.url),
        body,
      }),
    });
    const deepRow = await rowAtDepth(database.url, celebId, depth);
    const pages = [
      { target: 'first', after: null, description: 'followers(first: 50), first page, signed-in viewer' },
      {
        target: 'deep',
        after: listCursor(Lists.followers(celebId), deepRow),
        description: `followers(first: 50, after: <cursor of follower #${depth}>), signed-in viewer`,
      },
    ];
    const results: TargetResult[] = [idsResult];
    for (const page of pages) {
      const body = JSON.stringify({
        query: FOLLOWERS_QUERY,
        variables: { r: [{ __typename: 'User', id: celebId }], after: page.after },
      });
      const headers = headersFor(body);
      const check = await fetch(server.url, { method: 'POST', headers, body });
      const expectBody = await check.text();
      const edges = (JSON.parse(expectBody) as { data?: { _entities: { followers: { edges: unknown[] } }[] } }).data
        ?._entities[0]?.followers.edges;
      if (check.status !== 200 || edges?.length !== 50)
        throw new Error(`${page.target}: unexpected response ${check.status} ${expectBody.slice(0, 300)}`);
      process.stderr.write(`social-graph bench: ${page.target} page (warm-up ${warmupS} s, then ${durationS} s)\n`);
      const options = { url: server.url, connections, headers, body, expectBody };
      await load({ ...options, durationS: warmupS });
      results.push(toTargetResult(page.target, page.description, server.url, await load({ ...options, durationS })));
    }

    const [first, deep] = [results[1]!, results[2]!];
    return {
      settings: {
        followers,
        seedS,
        idPageSize: idPage,
        deepCursorDepth: depth,
        connections,
        durationS,
        warmupS,
        coldAllFollowerIdsS: round2(cold.totalMs / 1000),
        layout:
          'social-graph subgraph and the load generator in one process, over loopback; real Postgres (fresh database, ' +
          'seeded with INSERT ... SELECT generate_series, then VACUUM ANALYZE), in-process KV and event bus (unused here)',
        NODE_ENV: 'production',
        dbPoolSize: 10,
      },
      results,
      ratios: {
        'all follower ids s (warm)': round2(warm.totalMs / 1000),
        'follower ids per s': Math.round(followers / (warm.totalMs / 1000)),
        'deep/first p50': round2(deep.latencyMs.p50 / Math.max(first.latencyMs.p50, 0.01)),
        'deep/first mean': round2(deep.latencyMs.mean / first.latencyMs.mean),
        'deep/first req/s': round2(deep.requestsPerSec / first.requestsPerSec),
      },
    };
  } finally {
    await server?.stop();
    await bus.close();
    await kv.close();
    await db.$disconnect();
    await database.drop();
  }
}
