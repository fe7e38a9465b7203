import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateDeploy } from '@insta/db';
import { generatedCredentials } from '@insta/infra';
import { REPO_ROOT, ensureBuilt } from './build.ts';
import { startHaproxy, type BalancedService } from './haproxy.ts';
import { ManagedProcess, ServiceInstance, type Instance, type Runtime } from './process.ts';
import {
  DEPENDS_ON,
  SERVICE_NAMES,
  START_TIERS,
  URL_VARIABLE,
  type ServiceName,
  type SubgraphServiceName,
} from './services.ts';
import { answers200, freePort, statusOf, waitFor } from './wait.ts';

export interface S3Settings {
  endpoint: string;
  /** Where clients download media from (S3_PUBLIC_URL) and send uploads to (MEDIA_UPLOAD_URL). */
  publicUrl: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface TopologyOptions {
  /** A real Postgres database, already created; `migrate: true` runs `prisma migrate deploy` on it first. */
  databaseUrl: string;
  redisUrl: string;
  natsUrl: string;
  /** DEPLOYMENT_PREFIX of every process. */
  prefix: string;
  /** One log file per instance: <logDir>/<name>-<index>.log (plus haproxy.log and s3rver.log). */
  logDir: string;
  /** Processes per service, default 1; more puts HAProxy (own config, 127.0.0.1) in front of that service. */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra environment of every process (NODE_ENV, LOG_LEVEL, JWT_SECRET, GATEWAY_SIGNING_SECRET, ...). */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** An S3-compatible store; default: s3rver in a process of its own, objects in a temporary folder. */
  s3?: S3Settings;
  migrate?: boolean;
  /** 'dist' (default): node on the compiled bundles, built first when missing or older than the sources. */
  runtime?: Runtime;
  /** Extra Node.js flags of every service process (not HAProxy or s3rver), e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** Port of the public GraphQL endpoint (the gateway, or its balancer); default: a free one. */
  gatewayPort?: number;
}

export interface Topology {
  /** http://127.0.0.1:<port>/graphql (through HAProxy when the gateway has replicas). */
  gatewayUrl: string;
  /** What the other processes are given for `name` (the balancer's URL when it has replicas). */
  url(name: ServiceName): string;
  instances(name: ServiceName): Instance[];
  all(): Instance[];
  /** The environment every process shares (the secrets included, generated when `env` has none). */
  env: Readonly<Record<string, string>>;
  /** SIGTERM to everything: gateway first, then the subgraphs in reverse start order, then HAProxy and s3rver. */
  stop(): Promise<void>;
}

/**
 * Variables every process inherits from the launcher's environment (compose gives a container no more), and
 * NATS_STREAM_MAX_BYTES, which tests and benches set for the JetStream server they share.
 */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'NATS_STREAM_MAX_BYTES'];

/**
 * Starts every service as its own OS process on real Postgres, Redis and NATS, with the environment
 * docker-compose.yml gives it, in compose's readiness order: each tier starts once the one before answers /readyz.
 */
export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const runtime = options.runtime ?? 'dist';
  const replicas = (name: ServiceName) => Math.max(1, options.replicas?.[name] ?? 1);
  await mkdir(options.logDir, { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), `insta-topology-${options.prefix}-`));
  const stops: (() => Promise<unknown>)[] = [() => rm(scratch, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };

  try {
    if (runtime === 'dist') await ensureBuilt();
    if (options.migrate) await migrateDeploy(options.databaseUrl);

    const used = new Set<number>();
    const port = async (wanted?: number) => {
      if (wanted) return wanted;
      for (;;) {
        const candidate = await freePort();
        if (!used.has(candidate)) {
          used.add(candidate);
          return candidate;
        }
      }
    };

    // Ports first: every process learns the others' URLs from its environment, as in compose.
    const instancePorts = new Map<ServiceName, number[]>();
    const balanced: BalancedService[] = [];
    const serviceUrls = new Map<ServiceName, string>();
    for (const name of SERVICE_NAMES) {
      const count = replicas(name);
      const publicPort = name === 'gateway' ? options.gatewayPort : undefined;
      const ports: number[] = [];
      for (let i = 0; i < count; i++) ports.push(await port(count === 1 ? publicPort : undefined));
      instancePorts.set(name, ports);
      let servicePort = ports[0]!;
      if (count > 1) {
        servicePort = await port(publicPort);
        balanced.push({ name, port: servicePort, servers: ports });
      }
      serviceUrls.set(name, `http://127.0.0.1:${servicePort}/graphql`);
    }
    const url = (name: ServiceName) => serviceUrls.get(name)!;

    const secrets = {
      JWT_SECRET: options.env?.JWT_SECRET ?? randomBytes(32).toString('base64url'),
      GATEWAY_SIGNING_SECRET: options.env?.GATEWAY_SIGNING_SECRET ?? randomBytes(32).toString('base64url'),
    };
    const shared: Record<string, string> = {
      ...Object.fromEntries(INHERITED.flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : []))),
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      NATS_URL: options.natsUrl,
      DEPLOYMENT_PREFIX: options.prefix,
      ...options.env,
      ...secrets,
    };

    let s3 = options.s3;
    if (!s3) {
      const s3Port = await port();
      // The store's front checks SigV4 with credentials of this run (ADR 13): given to s3rver's process and media.
      const credentials = generatedCredentials();
      const s3rver = new ManagedProcess({
        label: 's3rver',
        command: process.execPath,
        args: ['--import', 'tsx', join(REPO_ROOT, 'packages/topology/src/s3rver.process.ts')],
        env: {
          ...shared,
          S3RVER_PORT: String(s3Port),
          S3RVER_DIRECTORY: join(scratch, 's3'),
          S3_BUCKET: 'insta-media',
          S3_ACCESS_KEY_ID: credentials.accessKeyId,
          S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        },
        logFile: join(options.logDir, 's3rver.log'),
        ready: async () => (await statusOf(`http://127.0.0.1:${s3Port}/`)) !== undefined,
      });
      await s3rver.start();
      stops.push(() => s3rver.stop());
      const endpoint = `http://127.0.0.1:${s3Port}`;
      s3 = {
        endpoint,
        publicUrl: `${endpoint}/insta-media`,
        bucket: 'insta-media',
        ...credentials,
        region: 'us-east-1',
      };
    }
    const s3Env = {
      S3_ENDPOINT: s3.endpoint,
      S3_PUBLIC_URL: s3.publicUrl,
      MEDIA_UPLOAD_URL: s3.publicUrl,
      S3_REGION: s3.region,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };

    if (balanced.length > 0) {
      const haproxy = await startHaproxy(balanced, { dir: scratch, logFile: join(options.logDir, 'haproxy.log') });
      stops.push(() => haproxy.stop());
    }

    const instances = new Map<ServiceName, ServiceInstance[]>();
    const started: ServiceInstance[][] = [];
    stops.push(async () => {
      // Gateway first (clients see it go), then each tier of subgraphs, callers before what they call.
      for (const tier of started.splice(0).reverse()) await Promise.all(tier.map((instance) => instance.stop()));
    });
    for (const tier of START_TIERS) {
      const tierInstances: ServiceInstance[] = [];
      started.push(tierInstances);
      for (const name of tier) {
        const env = {
          ...shared,
          ...Object.fromEntries(DEPENDS_ON[name].map((dep: SubgraphServiceName) => [URL_VARIABLE[dep], url(dep)])),
          ...(name === 'media' ? s3Env : {}),
          ...options.serviceEnv?.[name],
        };
        const list = instancePorts
          .get(name)!
          .map(
            (p, index) =>
              new ServiceInstance(name, index, p, { runtime, env, logDir: options.logDir, nodeArgs: options.nodeArgs }),
          );
        instances.set(name, list);
        tierInstances.push(...list);
      }
      await Promise.all(tierInstances.map((instance) => instance.start()));
      // What the next tier is given must answer too: through the balancer where there is one.
      await Promise.all(
        tier.map((name) =>
          waitFor(`${name} through its balancer`, async () =>
            (await answers200(url(name).replace(/\/graphql$/, '/readyz'))) ? true : undefined,
          ),
        ),
      );
    }

    return {
      gatewayUrl: url('gateway'),
      url,
      instances: (name) => [...(instances.get(name) ?? [])],
      all: () => SERVICE_NAMES.flatMap((name) => instances.get(name) ?? []),
      env: shared,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
