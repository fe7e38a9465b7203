import { join, resolve } from 'node:path';
import { z } from 'zod';
import { createPrismaClient, migrateDeploy } from '@insta/db';
import { startEmbeddedPostgres } from '@insta/db/pglite';
import { RedisEntityCacheStore, createGatewayServer, loadGatewayConfig, type EntityCacheStore } from '@insta/gateway';
import {
  callPolicySettings,
  connectNats,
  connectRedis,
  createInternalClient,
  createObjectStorage,
  deploymentPrefix,
  env,
  loadConfig,
  ensureBucket,
  MemoryEventBus,
  MemoryKeyValueStore,
  startEmbeddedObjectStore,
  NatsEventBus,
  RedisKeyValueStore,
  registerPgPool,
  type EventBus,
  type KeyValueStore,
  type Logger,
  type PgPoolStats,
  type RunningServer,
} from '@insta/infra';
import { loadFeedConfig, startFeedSubgraph } from '@insta/feed';
import { checkVideoTools, loadMediaConfig, startMediaSubgraph, type VideoToolsStatus } from '@insta/media';
import { loadPostsConfig, startPostsSubgraph } from '@insta/posts';
import {
  loadSocialGraphConfig,
  lateAccountSource,
  startSocialGraphSubgraph,
  usersAccountSource,
} from '@insta/social-graph';
import { loadUsersConfig, startUsersSubgraph } from '@insta/users';

import { loadOrCreateSecrets } from './secrets.ts';

/** Variables of the one-process launcher; the services' own variables are read by their config loaders. */
export const embeddedEnvSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  /** Where embedded Postgres, objects and generated secrets are kept. */
  DATA_DIR: z.string().default('.data'),
  /** Gateway port; the subgraphs take the next five (all random when 0). */
  PORT: env.port(4000),
  EMBEDDED_POSTGRES_PORT: env.port(0),
  EMBEDDED_S3_PORT: env.port(0),
  DB_POOL_SIZE: env.int(10, 1),
  S3_BUCKET: z.string().default('insta-media'),
  DEPLOYMENT_PREFIX: deploymentPrefix(),
});

export interface SystemOptions {
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

export interface RunningSystem {
  gatewayUrl: string;
  /** The reference web client (null when web/dist is not built). */
  webAppUrl: string | null;
  /** The gateway's `/metrics` when METRICS_PORT is set (the registry is the process's: every service's series). */
  metricsUrl: string | null;
  subgraphUrls: Record<'USERS_URL' | 'POSTS_URL' | 'FEED_URL' | 'SOCIAL_GRAPH_URL' | 'MEDIA_URL', string>;
  /** Which backing services are real and which embedded. */
  backends: Record<'postgres' | 'redis' | 'nats' | 's3', 'external' | 'embedded'>;
  /** Whether ffmpeg and ffprobe start: without them, video uploads are refused (VIDEO_PROCESSING_UNAVAILABLE). */
  videoProcessing: VideoToolsStatus;
  stop(): Promise<void>;
}

/**
 * The gateway and all five subgraphs in one process. Each backing service is the real one when its variable is
 * set (DATABASE_URL, REDIS_URL, NATS_URL, S3_ENDPOINT) and an embedded stand-in otherwise: PGlite over the
 * Postgres wire protocol, in-process KV and event-bus adapters, and s3rver.
 */
export async function startSystem({ env: source, logger }: SystemOptions): Promise<RunningSystem> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn();
  };
  try {
    const config = loadConfig(embeddedEnvSchema, source);
    const dataDir = resolve(config.DATA_DIR);
    const env = source;
    const secrets = await loadOrCreateSecrets(dataDir, env);
    const backends: RunningSystem['backends'] = {
      postgres: 'external',
      redis: 'external',
      nats: 'external',
      s3: 'external',
    };

    let databaseUrl = env.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pglite'), port: config.EMBEDDED_POSTGRES_PORT });
      stops.push(pg.stop);
      databaseUrl = pg.url;
      backends.postgres = 'embedded';
    }
    await migrateDeploy(databaseUrl);
    // One pool for every service of the process: pg_pool_* metrics under pool="embedded".
    const onPool = (pool: PgPoolStats) => registerPgPool('embedded', pool);
    const db = createPrismaClient({ url: databaseUrl, poolSize: config.DB_POOL_SIZE, onPool });
    stops.push(() => db.$disconnect());

    let kv: KeyValueStore;
    // The gateway's entity cache shares Redis when there is one; in-process only otherwise.
    let entityCacheStore: EntityCacheStore | undefined;
    if (env.REDIS_URL) {
      const redis = await connectRedis(env.REDIS_URL, logger);
      kv = new RedisKeyValueStore(redis, `${config.DEPLOYMENT_PREFIX}:`);
      entityCacheStore = new RedisEntityCacheStore(redis, `${config.DEPLOYMENT_PREFIX}:ec:`);
    } else {
      kv = new MemoryKeyValueStore(`${config.DEPLOYMENT_PREFIX}:`);
      backends.redis = 'embedded';
    }
    stops.push(() => kv.close());

    let bus: EventBus;
    if (env.NATS_URL)
      bus = new NatsEventBus(await connectNats(env.NATS_URL, 'insta-embedded'), config.DEPLOYMENT_PREFIX, logger);
    else {
      bus = new MemoryEventBus(config.DEPLOYMENT_PREFIX, logger);
      backends.nats = 'embedded';
    }
    stops.push(() => bus.close());

    let s3Env: Record<string, string | undefined> = {};
    if (!env.S3_ENDPOINT) {
      const s3 = await startEmbeddedObjectStore({
        directory: join(dataDir, 's3'),
        port: config.EMBEDDED_S3_PORT,
        bucket: config.S3_BUCKET,
      });
      stops.push(s3.stop);
      s3Env = s3.env;
      backends.s3 = 'embedded';
    }

    const gatewayPort = config.PORT;
    const subgraphPort = (offset: number) => String(gatewayPort === 0 ? 0 : gatewayPort + offset);
    const base = { ...env, ...secrets, ...s3Env };
    const deps = { db, kv, bus, logger };
    const start = async (server: Promise<RunningServer>) => {
      const running = await server;
      stops.push(running.stop);
      return running.url;
    };
    // Media asks social-graph (who may see a private account's media), users asks media (avatars are your own
    // READY images), and social-graph asks users about accounts its replica has not received yet: a cycle. Each
    // starts after what it asks, and social-graph, first, is handed users once users listens (until then a miss
    // fails transiently and is retried, like users being down).
    const usersAccounts = lateAccountSource();
    const socialConfig = loadSocialGraphConfig({ ...base, PORT: subgraphPort(4) });
    const SOCIAL_GRAPH_URL = await start(
      startSocialGraphSubgraph({ ...deps, config: socialConfig, accounts: usersAccounts }),
    );
    const mediaConfig = loadMediaConfig({ ...base, SOCIAL_GRAPH_URL, PORT: subgraphPort(5) });
    const storage = createObjectStorage(mediaConfig);
    await ensureBucket(storage);
    const MEDIA_URL = await start(startMediaSubgraph({ ...deps, config: mediaConfig, storage }));
    const USERS_URL = await start(
      startUsersSubgraph({ ...deps, config: loadUsersConfig({ ...base, MEDIA_URL, PORT: subgraphPort(1) }) }),
    );
    const usersForSocial = createInternalClient(USERS_URL, socialConfig.GATEWAY_SIGNING_SECRET, {
      from: 'social-graph',
      to: 'users',
      policy: callPolicySettings(socialConfig),
      logger,
    });
    stops.push(() => usersForSocial.close());
    usersAccounts.bind(usersAccountSource(usersForSocial));
    const others = { USERS_URL, SOCIAL_GRAPH_URL, MEDIA_URL };
    // Posts asks users, social-graph and media (mentions, visibility, media checks): it starts after them.
    const urls = {
      ...others,
      POSTS_URL: await start(
        startPostsSubgraph({ ...deps, config: loadPostsConfig({ ...base, ...others, PORT: subgraphPort(2) }) }),
      ),
      // Feed asks social-graph (followers of an author for the fan-out): it starts after it.
      FEED_URL: await start(
        startFeedSubgraph({ ...deps, config: loadFeedConfig({ ...base, ...others, PORT: subgraphPort(3) }) }),
      ),
    };
    const gateway = await createGatewayServer({
      config: loadGatewayConfig({ ...base, ...urls, PORT: String(gatewayPort) }),
      kv,
      bus,
      logger,
      entityCacheStore,
    });
    stops.push(gateway.stop);
    const videoProcessing = await checkVideoTools({
      ffmpegPath: mediaConfig.FFMPEG_PATH,
      ffprobePath: mediaConfig.FFPROBE_PATH,
    });
    return {
      gatewayUrl: gateway.url,
      webAppUrl: gateway.webAppUrl,
      metricsUrl: gateway.metricsUrl,
      subgraphUrls: urls,
      backends,
      videoProcessing,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
