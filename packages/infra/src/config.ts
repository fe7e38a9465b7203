import { z } from 'zod';
import { DEFAULT_SHUTDOWN_GRACE_MS } from './shutdown.ts';

/**
 * One validated, typed configuration object per process. `loadConfig` reads only the variables its schema
 * names and fails with a message that names every bad or missing variable.
 */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const raw = env[key];
    input[key] = raw === '' ? undefined : raw;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return parsed.data;
}

/** Reusable field schemas, so every process spells a variable the same way. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  int: (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback),
  url: () => z.url(),
  secret: () => z.string().min(32, 'must be at least 32 characters'),
  nodeEnv: () => z.enum(['development', 'test', 'production']).default('development'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * Prefix of every Redis key, NATS subject, stream and durable of one deployment: two deployments (or two test
 * runs) sharing a Redis or NATS server never see each other's data.
 */
export const deploymentPrefix = () =>
  z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,30}$/, 'must be lower-case letters, digits, _ or -')
    .default('insta');

/**
 * Defaults of the policy around every outbound call (internal clients, S3): per-attempt timeout, retries of
 * idempotent reads, and the breaker (resilience.ts, ADR 10).
 */
export function outboundCallEnv(timeoutMs = 5_000) {
  return {
    OUTBOUND_TIMEOUT_MS: env.int(timeoutMs, 1),
    OUTBOUND_RETRIES: env.int(2, 0),
    BREAKER_THRESHOLD: env.int(5, 1),
    BREAKER_HALF_OPEN_AFTER_MS: env.int(5_000, 100),
  };
}

/** Variables every subgraph reads. */
export const subgraphEnvSchema = z.object({
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().default('127.0.0.1'),
  GATEWAY_SIGNING_SECRET: env.secret(),
  IDENTITY_MAX_SKEW_SECONDS: env.int(15, 1),
  SHUTDOWN_GRACE_MS: env.int(DEFAULT_SHUTDOWN_GRACE_MS, 0),
  ...outboundCallEnv(),
});
export type SubgraphEnv = z.infer<typeof subgraphEnvSchema>;

/** Where a distributed process finds Postgres, Redis and NATS (embedded mode brings its own). */
export const connectionsEnvSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL'),
  NATS_URL: z.string().regex(/^(nats|tls):\/\//, 'must be a nats:// URL'),
  DB_POOL_SIZE: env.int(10, 1),
  DEPLOYMENT_PREFIX: deploymentPrefix(),
});
export type ConnectionsEnv = z.infer<typeof connectionsEnvSchema>;
