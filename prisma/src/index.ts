import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';
import { useOfflineEngineIfNeeded } from './schema-engine';

export * from '../generated/prisma/client';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const prismaCli = join(dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build/index.js');

export interface PrismaClientOptions {
  url: string;
  /** Maximum number of pooled connections. */
  poolSize: number;
  /**
   * Called with the node-postgres pool each time the client opens one (its first query, and again after a
   * `$disconnect`), so its usage can be reported (`registerPgPool` of @insta/infra: pg_pool_* metrics).
   */
  onPool?: (pool: PoolUsage) => void;
}

/** What a node-postgres pool tells of its use (a pg.Pool has it). */
export interface PoolUsage {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options: { readonly max?: number | undefined };
}

export function createPrismaClient({ url, poolSize, onPool }: PrismaClientOptions): PrismaClient {
  return new PrismaClient({ adapter: observedAdapter(new PrismaPg({ connectionString: url, max: poolSize }), onPool) });
}

/** The adapter factory, telling `onPool` about the pool of every connection it makes. */
export function observedAdapter(adapter: PrismaPg, onPool?: (pool: PoolUsage) => void): PrismaPg {
  if (!onPool) return adapter;
  const connect = adapter.connect.bind(adapter);
  adapter.connect = async () => {
    const connected = await connect();
    onPool(connected.underlyingDriver());
    return connected;
  };
  return adapter;
}

export class MigrateDeployError extends Error {
  override readonly name = 'MigrateDeployError';

  constructor(
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`prisma migrate deploy failed (exit code ${exitCode}):\n${output}`);
  }
}

/** Applies the pending migrations of this package to the database, by running `prisma migrate deploy`. */
export function migrateDeploy(databaseUrl: string): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl };
  useOfflineEngineIfNeeded(env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [prismaCli, 'migrate', 'deploy'], { cwd: packageDir, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new MigrateDeployError(code, output))));
  });
}
export * from './outbox';
