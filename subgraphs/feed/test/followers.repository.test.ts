import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '@insta/db';
import { createTestDatabase, statementCountingClient, type TestDatabase } from '@insta/db/testing';
import { FollowersRepository } from '../src/followers.repository.ts';

const DAY_MS = 86_400_000;
const FOLLOWERS = 20_000;
const BATCH = 1_000;

let database: TestDatabase;
let db: PrismaClient;
let statements: string[];
let followers: FollowersRepository;
const author = randomUUID();
const other = randomUUID();
const since = new Date(Date.now() - 30 * DAY_MS);
let active: string[];
let excluded: string[];

beforeAll(async () => {
  database = await createTestDatabase();
  ({ client: db, statements } = statementCountingClient(database.url, 2));
  followers = new FollowersRepository(db);
  // The fan-out's shape at scale: feed.users about as large as the author's followers (the bench's 100k case
  // made the planner prefer a hash join over a sequential scan of every user to 1 000 index probes).
  await db.$executeRaw`
    INSERT INTO feed.users (user_id, last_active_at)
    SELECT gen_random_uuid(), now() - (CASE WHEN n % 97 = 0 THEN interval '90 days' ELSE interval '1 hour' END)
    FROM generate_series(1, ${FOLLOWERS}) n`;
  await db.$executeRaw`
    INSERT INTO feed.follows (follower_id, followee_id, active, changed_at)
    SELECT user_id, ${author}::uuid, (row_number() OVER () % 101) <> 0, now() FROM feed.users`;
  // Followers of another author only, who must not be in any range.
  await db.$executeRaw`
    INSERT INTO feed.users (user_id, last_active_at) SELECT gen_random_uuid(), now() FROM generate_series(1, 500)`;
  await db.$executeRaw`
    INSERT INTO feed.follows (follower_id, followee_id, active, changed_at)
    SELECT user_id, ${other}::uuid, true, now() FROM feed.users u
    WHERE NOT EXISTS (SELECT FROM feed.follows f WHERE f.follower_id = u.user_id)`;
  await db.$executeRawUnsafe('VACUUM ANALYZE feed.users, feed.follows');
  const rows = await db.$queryRaw<{ id: string; included: boolean }[]>`
    SELECT f.follower_id::text AS id, (f.active AND u.last_active_at >= ${since}) AS included
    FROM feed.follows f JOIN feed.users u ON u.user_id = f.follower_id WHERE f.followee_id = ${author}::uuid`;
  active = rows.filter((r) => r.included).map((r) => r.id);
  excluded = rows.filter((r) => !r.included).map((r) => r.id);
}, 60_000);
afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

/** Every range of the author's follows, as the fan-out splits them. */
async function ranges() {
  const { starts } = await followers.ranges(author, BATCH);
  return starts.map((from, i) => ({ from, to: starts[i + 1] ?? null }));
}

describe('FollowersRepository.activeInRange', () => {
  it('should give each active follower in exactly one range, and no inactive, ended or other follower', async () => {
    expect(excluded.length).toBeGreaterThan(300);
    const all: string[] = [];
    for (const { from, to } of await ranges()) all.push(...(await followers.activeInRange(author, from, to, since)));
    expect(all.length).toBe(active.length);
    expect(new Set(all)).toEqual(new Set(active));
  });

  it('should read each range by index probes of its followers, never by a scan of every user', async () => {
    const plans: string[] = [];
    for (const { from, to } of await ranges()) {
      statements.length = 0;
      await followers.activeInRange(author, from, to, since);
      const [sql] = statements;
      // Prisma numbers the parameters in the order the query names them: since, author, from, to (when bounded).
      const params = to === null ? [since, author, from] : [since, author, from, to];
      const [row] = await db.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) ${sql}`, ...params);
      plans.push(JSON.stringify(row!['QUERY PLAN']));
    }
    expect(plans.length).toBe(Math.ceil(FOLLOWERS / BATCH));
    for (const plan of plans) {
      expect(plan).not.toMatch(/"Node Type":"(Seq Scan|Hash Join|Merge Join)"/);
      expect(plan).toMatch(/"Node Type":"Nested Loop"/);
      expect(plan).toMatch(/"Index Name":"users_user_id_last_active_at_idx"/);
    }
  });
});

describe('FollowersRepository.ranges', () => {
  /** The ranges as a window query gives them (the former implementation): every BATCH-th active follow's id. */
  async function reference(followee: string, size: number) {
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT id FROM (
        SELECT follower_id::text AS id, row_number() OVER (ORDER BY follower_id) - 1 AS n
        FROM feed.follows WHERE followee_id = ${followee}::uuid AND active) f
      WHERE n % ${size} = 0 ORDER BY n`;
    const [total] = await db.$queryRaw<{ count: number }[]>`
      SELECT count(*)::int AS count FROM feed.follows WHERE followee_id = ${followee}::uuid AND active`;
    return { count: total!.count, starts: rows.map((r) => r.id) };
  }

  it('should give the count and every size-th follower id, as a window over all follows would', async () => {
    for (const size of [BATCH, 7, 19_800, 40_000]) {
      expect(await followers.ranges(author, size)).toEqual(await reference(author, size));
    }
    expect(await followers.ranges(other, BATCH)).toEqual(await reference(other, BATCH));
    expect(await followers.ranges(randomUUID(), BATCH)).toEqual({ count: 0, starts: [] });
  });

  it('should stop at the limit: exact below it, at least the limit (ranges still covering everyone) above it', async () => {
    const full = await reference(author, BATCH);
    // Below the limit: the same as without one.
    expect(await followers.ranges(author, BATCH, full.count + 1)).toEqual(full);
    expect(await followers.ranges(author, BATCH, full.count + 5_000)).toEqual(full);
    // At or above it: a count of at least the limit, and the first starts (the last range is open-ended).
    for (const limit of [full.count, 5_000, 4_500, 1]) {
      const bounded = await followers.ranges(author, BATCH, limit);
      expect(bounded.count).toBeGreaterThanOrEqual(limit);
      expect(bounded.count).toBeLessThanOrEqual(full.count);
      expect(bounded.starts).toEqual(full.starts.slice(0, Math.ceil(limit / BATCH)));
    }
  });

  it('should find the starts by index-only hops, with no window, sort or scan of the table', async () => {
    statements.length = 0;
    await followers.ranges(author, BATCH, 30_000);
    const [sql] = statements;
    // Prisma numbers the parameters in the order the query names them.
    const params = [author, author, BATCH, 30_000, BATCH, 30_000, BATCH, author, 30_000, BATCH];
    const [row] = await db.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) ${sql}`, ...params);
    const plan = JSON.stringify(row!['QUERY PLAN']);
    expect(plan).not.toMatch(/"Node Type":"(Seq Scan|WindowAgg|Sort|Bitmap Heap Scan)"/);
    expect(plan).toMatch(/"Node Type":"Recursive Union"/);
    expect(plan).toMatch(/"Index Name":"follows_followee_id_follower_id_active_idx"/);
  });
});
