import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { migrateDeploy, PrismaClient } from './index';

/**
 * Each test run migrates its own template (named by the run's process id, passed to the workers through the
 * environment), so runs on one Postgres never drop each other's template.
 */
const TEMPLATE_ENV = 'INSTA_TEST_TEMPLATE';
function templateDatabase(): string {
  const name = process.env[TEMPLATE_ENV];
  if (!name) throw new Error('No test template database: call prepareTemplateDatabase() first (vitest globalSetup)');
  return name;
}

function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

function databaseUrl(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.href;
}

async function withAdminClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** For vitest `globalSetup`: (re)creates the migrated template database that test databases are copied from. */
export async function prepareTemplateDatabase(): Promise<() => Promise<void>> {
  const template = `insta_test_template_${process.pid}`;
  process.env[TEMPLATE_ENV] = template;
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${template}`);
  });
  await migrateDeploy(databaseUrl(template));
  return () =>
    withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`)).then(() => undefined);
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, migrated database, copied from the template prepared by `prepareTemplateDatabase`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `insta_test_${randomUUID().replaceAll('-', '')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${templateDatabase()}`));
  return {
    url: databaseUrl(name),
    drop: () =>
      withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * A client that records the SQL statements requests send, for tests and benchmarks that bound them. The outbox
 * relay polls on the same client: its lock, outbox and transaction-control statements belong to no request and
 * are left out.
 */
export function statementCountingClient(url: string, poolSize: number): { client: PrismaClient; statements: string[] } {
  const client = new PrismaClient({
    adapter: new PrismaPg({ connectionString: url, max: poolSize }),
    log: [{ emit: 'event', level: 'query' }],
  });
  const statements: string[] = [];
  const relayStatement = /pg_try_advisory_xact_lock|\b[a-z]+\.outbox\b|^(BEGIN|COMMIT|ROLLBACK)\b/i;
  client.$on('query', (e) => {
    if (!relayStatement.test(e.query.trim())) statements.push(e.query);
  });
  return { client, statements };
}
