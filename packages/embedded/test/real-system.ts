import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@insta/db/testing';
import { silentLogger, testServices, uniquePrefix } from '@insta/infra/testing';
import { startSystem } from '../src/system.ts';

/**
 * The whole system (gateway + five subgraphs) on the real Postgres (a fresh database), Redis and NATS (under a
 * deployment prefix of its own, so test files running at once never share keys, streams or durables), with
 * s3rver for objects.
 */
export async function startRealSystem(name: string, env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), `insta-${name}-`));
  const database = await createTestDatabase();
  const prefix = uniquePrefix(name);
  const cleanUp = async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const system = await startSystem({
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: testServices.redisUrl,
        NATS_URL: testServices.natsUrl,
        DEPLOYMENT_PREFIX: prefix,
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        ...env,
      },
      logger: silentLogger,
    });
    return {
      system,
      database,
      prefix,
      async stop() {
        await system.stop();
        await cleanUp();
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
export type RealSystem = Awaited<ReturnType<typeof startRealSystem>>;
