import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL, silentLogger } from '@insta/infra/testing';
import { startSystem, type RunningSystem } from '../src/system.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';
import { accountRoundTrip, expectExplorer } from './flow.ts';

describe('the system on the real Postgres, Redis and NATS', () => {
  let real: RealSystem;
  let system: RunningSystem;
  beforeAll(async () => {
    real = await startRealSystem('system-e2e');
    system = real.system;
  });
  afterAll(async () => {
    await real?.stop();
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
