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
}

export function createPrismaClient({ url, poolSize }: PrismaClientOptions): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }) });
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
