import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { postGraphQL, silentLogger, testServices, uniquePrefix } from '@insta/infra/testing';
import { startSystem, type RunningSystem } from '../src/system.ts';
import { accountRoundTrip, expectExplorer } from './flow.ts';

describe('the system on the real Postgres, Redis and NATS', () => {
  let dataDir: string;
  let database: TestDatabase;
  let system: RunningSystem;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'insta-e2e-'));
    database = await createTestDatabase();
    system = await startSystem({
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: testServices.redisUrl,
        NATS_URL: testServices.natsUrl,
        DEPLOYMENT_PREFIX: uniquePrefix('e2e'),
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
      },
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await system?.stop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should use the real services it was given', () => {
    expect(system.backends).toEqual({ postgres: 'external', redis: 'external', nats: 'external', s3: 'embedded' });
  });

  it('should serve the explorer on GET /graphql', async () => {
    await expectExplorer(system.gatewayUrl);
  });

  it('should run signUp, me, signIn, refreshToken, searchUsers and signOut through the gateway', async () => {
    await accountRoundTrip(system.gatewayUrl, Date.now().toString(36));
  });

  it('should refuse subgraph calls that bypass the gateway', async () => {
    for (const url of Object.values(system.subgraphUrls)) {
      const res = await postGraphQL(url, '{ __typename }');
      expect(res.status).toBe(401);
    }
  });
});

describe('the embedded default (no services configured)', () => {
  let dataDir: string;
  let system: RunningSystem;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'insta-embedded-'));
    system = await startSystem({ env: { PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent' }, logger: silentLogger });
  });
  afterAll(async () => {
    await system?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should run everything on embedded stand-ins', () => {
    expect(system.backends).toEqual({ postgres: 'embedded', redis: 'embedded', nats: 'embedded', s3: 'embedded' });
  });

  it('should serve the same round trip as on the real services', async () => {
    await expectExplorer(system.gatewayUrl);
    await accountRoundTrip(system.gatewayUrl, 'embedded');
  });
});
