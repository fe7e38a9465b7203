import { z } from 'zod';
import { createLogger, env, loadConfig, onShutdown, runMain, startEmbeddedObjectStore } from '@insta/infra';

/** s3rver as a process of its own, the topology's stand-in for MinIO or S3 when no S3 endpoint is given. */
const schema = z.object({
  S3RVER_PORT: env.port(0),
  S3RVER_DIRECTORY: z.string(),
  S3_BUCKET: z.string(),
  /** The credentials the front checks signatures with; generated when missing. */
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
});

runMain(async () => {
  const config = loadConfig(schema);
  const logger = createLogger('s3rver', 'info');
  const store = await startEmbeddedObjectStore({
    directory: config.S3RVER_DIRECTORY,
    port: config.S3RVER_PORT,
    bucket: config.S3_BUCKET,
    credentials:
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined,
  });
  logger.info({ endpoint: store.env.S3_ENDPOINT, bucket: config.S3_BUCKET }, 's3rver ready');
  onShutdown(logger, 5_000, () => store.stop());
});
