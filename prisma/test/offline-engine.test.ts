import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const prismaCli = join(dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build/index.js');
const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const database = `insta_offline_engine_${randomUUID().replaceAll('-', '')}`;
const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${database}` }).href;

function prisma(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [prismaCli, ...args], {
    cwd: packageDir,
    env: { ...process.env, PRISMA_OFFLINE: '1', DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

/** The migrations in prisma/migrations, in the order Prisma applies them. */
function migrationFolders(): string[] {
  return readdirSync(new URL('../migrations', import.meta.url), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

describe('prisma migrate through the offline schema engine', () => {
  beforeAll(() => admin(`CREATE DATABASE ${database}`));
  afterAll(() => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

  it('deploy applies the migrations to a fresh database', async () => {
    const deploy = prisma('migrate', 'deploy');
    expect(deploy.output).toContain('All migrations have been successfully applied.');
    expect(deploy.status).toBe(0);

    const migrations = await query<{ migration_name: string; finished_at: Date | null }>(
      'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(migrations.map((m) => m.migration_name)).toEqual(migrationFolders());
    expect(migrations.every((m) => m.finished_at instanceof Date)).toBe(true);

    const tables = await query<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
       WHERE table_schema IN ('users', 'social', 'posts', 'media', 'feed') ORDER BY 1`,
    );
    expect(tables.map((table) => table.name)).toEqual(
      expect.arrayContaining([
        'feed.notifications',
        'media.media',
        'media.outbox',
        'posts.outbox',
        'posts.posts',
        'social.outbox',
        'social.user_stats',
        'users.outbox',
        'users.refresh_tokens',
        'users.sessions',
        'users.users',
      ]),
    );
    expect(await query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).toHaveLength(1);
  });

  it('status reports the migrated database up to date', () => {
    const status = prisma('migrate', 'status');
    expect(status.output).toContain('Database schema is up to date!');
    expect(status.status).toBe(0);
  });

  it('deploy is a no-op on an up-to-date database', async () => {
    const deploy = prisma('migrate', 'deploy');
    expect(deploy.output).toContain('No pending migrations to apply.');
    expect(deploy.status).toBe(0);
    expect(await query('SELECT 1 FROM _prisma_migrations')).toHaveLength(migrationFolders().length);
  });
});
