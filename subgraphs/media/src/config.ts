import { z } from 'zod';
import { env, loadConfig, storageEnvSchema, subgraphEnvSchema } from '@insta/infra';

const MiB = 1024 * 1024;

export const mediaEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4005),
  ...storageEnvSchema.shape,
  /** Where clients send the pre-signed POST when S3_ENDPOINT is an internal address; defaults to <S3_ENDPOINT>/<S3_BUCKET>. */
  MEDIA_UPLOAD_URL: z.url().optional(),
  /** Social-graph, asked who may see a private account's media (and whether an owner is private). */
  SOCIAL_GRAPH_URL: env.url().default('http://127.0.0.1:4004/graphql'),
  /** The S3 endpoint clients reach, for signed GET URLs of private media, when S3_ENDPOINT is internal. */
  S3_PRESIGN_ENDPOINT: z.url().optional(),
  /** Signed URLs of private media are valid between this and twice this long (and cached that long by the client). */
  MEDIA_PRIVATE_URL_TTL_SECONDS: env.int(300, 30),
  MEDIA_MAX_IMAGE_BYTES: env.int(16 * MiB, 1),
  MEDIA_MAX_VIDEO_BYTES: env.int(200 * MiB, 1),
  /** Longer videos are marked FAILED (TOO_LONG) instead of being transcoded. */
  MEDIA_MAX_VIDEO_SECONDS: env.int(600, 1),
  UPLOAD_URL_TTL_SECONDS: env.int(600, 30),
  /**
   * Processing attempts that fail on the media itself (not on S3 or Postgres being unreachable, which are retried
   * as long as they last) before it is marked FAILED and its job dead-lettered.
   */
  MEDIA_PROCESSING_MAX_DELIVER: env.int(3, 1),
  /**
   * How long a job stays with a replica that stopped reporting progress (crashed) before another one gets it. A
   * running attempt reports progress, so this does not limit how long it may take.
   */
  MEDIA_PROCESSING_ACK_WAIT_SECONDS: env.int(15, 5),
  /** How long one attempt may transcode before ffmpeg is stopped and the attempt fails. */
  MEDIA_PROCESSING_TIMEOUT_SECONDS: env.int(900, 10),
  FFMPEG_PATH: z.string().default('ffmpeg'),
  FFPROBE_PATH: z.string().default('ffprobe'),
});
export type MediaConfig = z.infer<typeof mediaEnvSchema>;

export const loadMediaConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(mediaEnvSchema, source);
