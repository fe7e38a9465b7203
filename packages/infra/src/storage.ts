import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';

/** S3-compatible object storage settings (S3_*). Read by the processes that touch objects. */
export const storageEnvSchema = z.object({
  S3_ENDPOINT: z.url(),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z.string().min(3),
  S3_ACCESS_KEY_ID: z.string().min(1),
  S3_SECRET_ACCESS_KEY: z.string().min(1),
  /** Base URL that clients download objects from (a CDN in production); defaults to endpoint/bucket. */
  S3_PUBLIC_URL: z.url().optional(),
});
export type StorageEnv = z.infer<typeof storageEnvSchema>;

export interface ObjectStorage {
  client: S3Client;
  bucket: string;
  publicUrl: string;
  ping(): Promise<void>;
}

export function createObjectStorage(env: StorageEnv): ObjectStorage {
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    // Default checksums send stream bodies aws-chunked with trailers, which some S3-compatible stores (s3rver)
    // save verbatim; ask for checksums only where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    client,
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
