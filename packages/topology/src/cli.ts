import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { createLogger, deploymentPrefix, env, loadConfig, onShutdown, runMain } from '@insta/infra';
import { parseReplicas } from './replicas.ts';
import { SERVICE_NAMES } from './services.ts';
import { startTopology, type S3Settings } from './topology.ts';

const USAGE = `npm run start:services -- [options]

Every service in its own process on the machine's Postgres, Redis and NATS (docker-compose.yml without Docker).

  --replicas N            N processes of every service, behind HAProxy (default 1)
  --replicas name=N       N processes of one service (repeatable: --replicas users=2 --replicas gateway=2)
  --port P                public gateway port (default: PORT, else 4000)
  --runtime dist|tsx      compiled bundles (default; built when out of date) or the TypeScript sources
  --log-dir DIR           one log per process (default: .data/logs)
  --help`;

/** The launcher's own settings; the services' variables (LOG_LEVEL, JWT_SECRET, ...) pass through to them. */
const cliEnvSchema = z.object({
  DATABASE_URL: z.string().default('postgresql://postgres@127.0.0.1:5432/insta'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  DEPLOYMENT_PREFIX: deploymentPrefix(),
  PORT: env.port(4000),
  S3_ENDPOINT: z.url().optional(),
  S3_PUBLIC_URL: z.url().optional(),
  S3_BUCKET: z.string().default('insta-media'),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
});

/** Variables handed to every process when set here. */
const PASSED_ON = [
  'NODE_ENV',
  'LOG_LEVEL',
  'JWT_SECRET',
  'GATEWAY_SIGNING_SECRET',
  'SHUTDOWN_GRACE_MS',
  'DB_POOL_SIZE',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_TRACES_SAMPLER_ARG',
];

/** Creates the database of `url` when its server does not have it yet. */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      replicas: { type: 'string', multiple: true, default: [] },
      port: { type: 'string' },
      runtime: { type: 'string', default: 'dist' },
      'log-dir': { type: 'string', default: '.data/logs' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(cliEnvSchema);
  const runtime = values.runtime;
  if (runtime !== 'dist' && runtime !== 'tsx') throw new Error(`--runtime: "${runtime}" is neither dist nor tsx`);
  const gatewayPort = values.port === undefined ? config.PORT : Number(values.port);
  if (!Number.isInteger(gatewayPort) || gatewayPort < 1) throw new Error(`--port: "${values.port}" is not a port`);
  let s3: S3Settings | undefined;
  if (config.S3_ENDPOINT) {
    if (!config.S3_ACCESS_KEY_ID || !config.S3_SECRET_ACCESS_KEY) {
      throw new Error('S3_ENDPOINT is set: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY too');
    }
    s3 = {
      endpoint: config.S3_ENDPOINT,
      publicUrl: config.S3_PUBLIC_URL ?? `${config.S3_ENDPOINT}/${config.S3_BUCKET}`,
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    };
  }
  const logger = createLogger('topology', 'info');
  const logDir = resolve(values['log-dir']);
  await ensureDatabase(config.DATABASE_URL);
  const passed = Object.fromEntries(PASSED_ON.flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : [])));
  const topology = await startTopology({
    databaseUrl: config.DATABASE_URL,
    redisUrl: config.REDIS_URL,
    natsUrl: config.NATS_URL,
    prefix: config.DEPLOYMENT_PREFIX,
    logDir,
    replicas: parseReplicas(values.replicas),
    env: passed,
    ...(s3 ? { s3 } : {}),
    migrate: true,
    runtime,
    gatewayPort,
  });
  // Tiers stop one after the other, each within its SHUTDOWN_GRACE_MS.
  onShutdown(logger, 60_000, topology.stop);
  // npm does not pass SIGTERM on, it just exits: a launcher whose parent is gone stops as if it got the signal.
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphaned);
    process.kill(process.pid, 'SIGTERM');
  }, 500).unref();
  const lines = [`\n  GraphQL API: ${topology.gatewayUrl}\n`];
  for (const name of SERVICE_NAMES) {
    const instances = topology.instances(name);
    const via = instances.length > 1 ? ` (HAProxy: ${topology.url(name)})` : '';
    lines.push(`  ${name}${via}`);
    for (const instance of instances) lines.push(`    pid ${instance.pid}  ${instance.url}  log ${instance.logFile}`);
  }
  lines.push(`\n  logs in ${logDir}; Ctrl-C or SIGTERM stops everything\n`);
  console.log(lines.join('\n'));
});
