import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { migrateDeploy } from '@insta/db';
import { createTestDatabase } from '@insta/db/testing';
import {
  TEST_SECRETS,
  startPrivateNats,
  startPrivatePostgres,
  startPrivateRedis,
  uniquePrefix,
  type PrivatePostgres,
  type PrivateServer,
} from '@insta/infra/testing';
import { startTopology, type ServiceName, type Topology } from '@insta/topology';
import pg from 'pg';
import { ApiClient } from './workload.ts';

/**
 * The stage of one fault test: the deployed topology (every service its own OS process, NODE_ENV production)
 * on private NATS and Redis instances, and a database either on the machine's Postgres or on a private
 * Postgres that the test may stop. Logs go to faults/logs/<test>/ for a failed run to be read.
 */
export interface Stage {
  topology: Topology;
  client: ApiClient;
  nats: PrivateServer;
  redis: PrivateServer;
  /** Present when the stage runs on a private Postgres. */
  postgres: PrivatePostgres | undefined;
  databaseUrl: string;
  prefix: string;
  logDir: string;
  stop(): Promise<void>;
}

export interface StageOptions {
  name: string;
  privatePostgres?: boolean;
  replicas?: Partial<Record<ServiceName, number>>;
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
}

export async function startStage(options: StageOptions): Promise<Stage> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const [nats, redis] = await Promise.all([startPrivateNats(), startPrivateRedis()]);
    cleanups.push(
      () => nats.destroy(),
      () => redis.destroy(),
    );
    let postgres: PrivatePostgres | undefined;
    let databaseUrl: string;
    if (options.privatePostgres) {
      postgres = await startPrivatePostgres();
      cleanups.push(() => postgres!.destroy());
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      await admin.query('CREATE DATABASE insta');
      await admin.end();
      databaseUrl = postgres.url.replace(/\/postgres$/, '/insta');
      await migrateDeploy(databaseUrl);
    } else {
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      databaseUrl = database.url;
    }
    const prefix = uniquePrefix(options.name)
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '_');
    const logDir = resolve(import.meta.dirname, '..', 'logs', options.name);
    await mkdir(logDir, { recursive: true });
    const topology = await startTopology({
      databaseUrl,
      redisUrl: redis.url,
      natsUrl: nats.url,
      prefix,
      logDir,
      replicas: options.replicas,
      env: { NODE_ENV: 'production', LOG_LEVEL: 'info', ...TEST_SECRETS, ...options.env },
      serviceEnv: options.serviceEnv,
    });
    cleanups.push(() => topology.stop());
    return {
      topology,
      client: new ApiClient(() => topology.gatewayUrl),
      nats,
      redis,
      postgres,
      databaseUrl,
      prefix,
      logDir: join(logDir),
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
