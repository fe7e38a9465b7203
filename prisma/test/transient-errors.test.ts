import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransientError } from '@insta/infra';
import { startPrivatePostgres, type PrivatePostgres } from '@insta/infra/testing';
import { createPrismaClient, migrateDeploy, type PrismaClient } from '../src/index.ts';

/**
 * What Prisma 7 with the pg driver adapter throws while Postgres is down or going down must be recognised as
 * transient: that is what turns an outage into SERVICE_UNAVAILABLE for clients and retries for consumers. On a
 * Postgres of the test's own, since it is stopped.
 */
describe('Prisma errors of a database outage', () => {
  let pg: PrivatePostgres;
  let db: PrismaClient;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    await migrateDeploy(pg.url);
    db = createPrismaClient({ url: pg.url, poolSize: 2 });
  });

  afterAll(async () => {
    await db?.$disconnect().catch(() => undefined);
    await pg?.destroy();
  });

  const failureOf = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      return error;
    }
    throw new Error('the query succeeded although Postgres is down');
  };

  it('should call errors of queries cut by a shutdown transient', async () => {
    await pg.start();
    await db.user.count();
    const raw = failureOf(() => db.$queryRawUnsafe('SELECT pg_sleep(30)'));
    const transaction = failureOf(() =>
      db.$transaction(async (tx) => {
        await tx.user.count();
        await tx.$queryRawUnsafe('SELECT pg_sleep(30)');
      }),
    );
    await expect.poll(() => activeSleeps(pg.url), { timeout: 10_000 }).toBe(2);
    await pg.stop();
    for (const error of [await raw, await transaction]) {
      expect(error, String(error)).toSatisfy(isTransientError);
    }
  });

  it('should call errors of queries while the server is down transient', async () => {
    await pg.stop();
    const errors = [
      await failureOf(() => db.user.count()),
      await failureOf(() => db.$queryRawUnsafe('SELECT 1')),
      await failureOf(() => db.$transaction(async (tx) => tx.user.findMany({ take: 1 }))),
    ];
    const fresh = createPrismaClient({ url: pg.url, poolSize: 1 });
    errors.push(await failureOf(() => fresh.user.count()));
    await fresh.$disconnect();
    for (const error of errors) expect(error, String(error)).toSatisfy(isTransientError);
  });

  it('should not call a query that fails on its content transient', async () => {
    await pg.start();
    const error = await failureOf(() => db.$queryRawUnsafe('SELECT * FROM no_such_table'));
    expect(isTransientError(error)).toBe(false);
  });
});

/** Backends of other connections sleeping in pg_sleep (a fresh connection, so the pool's stay busy). */
async function activeSleeps(url: string): Promise<number> {
  const probe = createPrismaClient({ url, poolSize: 1 });
  try {
    const rows = await probe.$queryRawUnsafe<{ n: number }[]>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await probe.$disconnect();
  }
}
