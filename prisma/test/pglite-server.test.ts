import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, migrateDeploy } from '../src/index';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/pglite-server';

const INSERT_USER = `INSERT INTO users.users (id, username, email, password_hash, updated_at)
  VALUES (gen_random_uuid(), $1::text, $1::text || '@example.com', 'x', now())`;

describe('embedded Postgres (PGlite over the wire protocol)', () => {
  let dataDir: string;
  let server: EmbeddedPostgres;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'insta-pglite-'));
    server = await startEmbeddedPostgres({ dataDir, port: 0 });
    await migrateDeploy(server.url);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves a PrismaClient over the migrated schema', async () => {
    const prisma = createPrismaClient({ url: server.url, poolSize: 4 });
    try {
      const created = await prisma.user.create({
        data: { username: 'alice', email: 'alice@example.com', passwordHash: 'hash' },
      });
      const read = await prisma.user.findUnique({ where: { username: 'alice' } });
      expect(read).toMatchObject({ id: created.id, email: 'alice@example.com', isPrivate: false });
    } finally {
      await prisma.$disconnect();
    }
  });

  it("keeps other connections' statements out of an open transaction", async () => {
    const a = new pg.Client({ connectionString: server.url });
    const b = new pg.Client({ connectionString: server.url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const countUsers = async (client: pg.Client) =>
        Number((await client.query<{ count: string }>('SELECT count(*) FROM users.users')).rows[0]?.count);
      const before = await countUsers(b);

      await a.query('BEGIN');
      await a.query(INSERT_USER, ['uncommitted']);
      let bFinished = false;
      const bWork = (async () => {
        const seen = await countUsers(b);
        await b.query(INSERT_USER, ['independent']);
        bFinished = true;
        return seen;
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(bFinished).toBe(false);

      await a.query('ROLLBACK');
      expect(await bWork).toBe(before);
      const names = await a.query<{ username: string }>(
        "SELECT username FROM users.users WHERE username IN ('uncommitted', 'independent')",
      );
      expect(names.rows.map((row) => row.username)).toEqual(['independent']);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });
});
