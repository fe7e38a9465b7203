import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { Logger } from './logger.ts';
import { CallPolicy, DEFAULT_CALL_POLICY, type CallPolicyEnv } from './resilience.ts';

const DEFAULT_S3_TIMEOUT_MS = 30_000;

/** S3-compatible object storage settings (S3_*). Read by the processes that touch objects. */
export const storageEnvSchema = z.object({
  S3_ENDPOINT: z.url(),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z.string().min(3),
  S3_ACCESS_KEY_ID: z.string().min(1),
  S3_SECRET_ACCESS_KEY: z.string().min(1),
  /** Base URL that clients download objects from (a CDN in production); defaults to endpoint/bucket. */
  S3_PUBLIC_URL: z.url().optional(),
  /**
   * A request to the store that takes longer (to its response headers; an upload's body counts) fails, and so
   * does a socket silent for that long; failures count against the store's breaker (ADR 10).
   */
  S3_TIMEOUT_MS: z.coerce.number().int().min(1).default(DEFAULT_S3_TIMEOUT_MS),
});
export type StorageEnv = z.infer<typeof storageEnvSchema>;

export interface ObjectStorage {
  /** Every command it sends runs under `policy` (breaker and timeout; the SDK retries on its own). */
  client: S3Client;
  policy: CallPolicy;
  bucket: string;
  publicUrl: string;
  ping(): Promise<void>;
}

/**
 * An S3 client whose every command passes the store's breaker: while the store is down, calls fail at once with a
 * transient error (SERVICE_UNAVAILABLE for clients, a retry for consumers) instead of each waiting for its own
 * timeouts and the SDK's retries. `env` may carry the breaker settings of the process (BREAKER_*).
 */
export function createObjectStorage(
  env: Omit<StorageEnv, 'S3_TIMEOUT_MS'> & Partial<Pick<StorageEnv, 'S3_TIMEOUT_MS'> & CallPolicyEnv>,
  logger?: Logger,
): ObjectStorage {
  const timeoutMs = env.S3_TIMEOUT_MS ?? DEFAULT_S3_TIMEOUT_MS;
  const policy = new CallPolicy(
    's3',
    {
      timeoutMs,
      // The SDK already retries transient failures (3 attempts, with backoff and jitter).
      retries: 0,
      breakerThreshold: env.BREAKER_THRESHOLD ?? DEFAULT_CALL_POLICY.breakerThreshold,
      breakerHalfOpenAfterMs: env.BREAKER_HALF_OPEN_AFTER_MS ?? DEFAULT_CALL_POLICY.breakerHalfOpenAfterMs,
    },
    logger,
  );
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    // Default checksums send stream bodies aws-chunked with trailers, which some S3-compatible stores (s3rver)
    // save verbatim; ask for checksums only where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(timeoutMs, 5_000), requestTimeout: timeoutMs },
  });
  // Outermost (initialize step): the breaker sees each command once, after the SDK's own retries.
  client.middlewareStack.add((next) => (args) => policy.execute(() => next(args), { idempotent: false }), {
    step: 'initialize',
    name: 'instaCircuitBreaker',
  });
  return {
    client,
    policy,
    bucket: env.S3_BUCKET,
    publicUrl: env.S3_PUBLIC_URL ?? `${env.S3_ENDPOINT.replace(/\/$/, '')}/${env.S3_BUCKET}`,
    ping: async () => {
      await client.send(new HeadBucketCommand({ Bucket: env.S3_BUCKET }));
    },
  };
}

export async function ensureBucket(storage: ObjectStorage): Promise<void> {
  try {
    await storage.ping();
  } catch {
    await storage.client.send(new CreateBucketCommand({ Bucket: storage.bucket }));
  }
}
