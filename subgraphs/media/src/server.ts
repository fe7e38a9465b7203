import { outboxStore, type PrismaClient } from '@insta/db';
import {
  MEDIA_STREAM,
  MediaSubjects,
  USERS_STREAM,
  UsersSubjects,
  type MediaUploadCompletedEvent,
  type UserUpdatedEvent,
} from '@insta/events';
import {
  callPolicySettings,
  commonServerOptions,
  createInternalClient,
  createObjectStorage,
  ensureBucket,
  OutboxRelay,
  startSubgraphServer,
  subgraphSchema,
  type Consumer,
  type ObjectStorage,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import type { MediaConfig } from './config.ts';
import type { Context } from './context.ts';
import { clientHints } from './delivery.ts';
import { createLoaders } from './loaders.ts';
import { MediaRepository } from './media.repository.ts';
import { MediaService } from './media.service.ts';
import { ObjectsRepository } from './objects.repository.ts';
import { PrivacyMover } from './privacy.consumer.ts';
import { ProcessingWorker } from './processing/processing.worker.ts';
import { checkVideoTools, videoToolsAdvice } from './processing/video-tools.ts';
import { resolvers } from './resolvers/index.ts';
import { socialGraphClient } from '@insta/social-graph/client';

export type MediaDeps = SubgraphDeps<MediaConfig, PrismaClient> & { storage: ObjectStorage };

/** The durable consumer of processing jobs, inside the media process. */
export const PROCESSING_DURABLE = 'media-processing';
/** The durable consumer of `users.user.updated` that moves an account's media to private storage. */
export const PRIVACY_DURABLE = 'media-privacy';

export async function startMediaSubgraph(deps: MediaDeps): Promise<RunningServer> {
  const { config, bus, logger } = deps;
  await ensureBucket(deps.storage);
  await bus.ensureStream(MEDIA_STREAM);
  const relay = new OutboxRelay(outboxStore(deps.db, 'media.outbox'), bus, logger);
  relay.start();
  const repository = new MediaRepository(deps.db, () => relay.notify());
  const presigner = config.S3_PRESIGN_ENDPOINT
    ? createObjectStorage({ ...config, S3_ENDPOINT: config.S3_PRESIGN_ENDPOINT }).client
    : deps.storage.client;
  const objects = new ObjectsRepository(deps.storage, config.MEDIA_UPLOAD_URL, presigner);
  const socialInternal = createInternalClient(config.SOCIAL_GRAPH_URL, config.GATEWAY_SIGNING_SECRET, {
    from: 'media',
    to: 'social-graph',
    policy: callPolicySettings(config),
    logger,
  });
  const social = socialGraphClient(socialInternal);
  const ownerIsPrivate = async (ownerId: string) => {
    const [relation] = await social.relations(null, [ownerId]);
    return relation?.targetIsPrivate ?? true;
  };
  const videoTools = await checkVideoTools({ ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH });
  if (!videoTools.available) logger.warn({ missing: videoTools.missing }, videoToolsAdvice(videoTools));
  const service = new MediaService(repository, objects, config, logger, videoTools);
  const worker = new ProcessingWorker(
    repository,
    objects,
    {
      ffmpegPath: config.FFMPEG_PATH,
      ffprobePath: config.FFPROBE_PATH,
      maxSeconds: config.MEDIA_MAX_VIDEO_SECONDS,
      timeoutMs: config.MEDIA_PROCESSING_TIMEOUT_SECONDS * 1000,
    },
    logger,
    ownerIsPrivate,
  );
  let consumer: Consumer | undefined;
  let privacyConsumer: Consumer | undefined;
  try {
    consumer = await bus.consume<MediaUploadCompletedEvent>({
      stream: MEDIA_STREAM.name,
      durable: PROCESSING_DURABLE,
      filterSubject: MediaSubjects.uploadCompleted,
      maxDeliver: config.MEDIA_PROCESSING_MAX_DELIVER,
      retryDelayMs: 5_000,
      maxRetryDelayMs: 30_000,
      ackWaitMs: config.MEDIA_PROCESSING_ACK_WAIT_SECONDS * 1000,
      // A job is minutes of ffmpeg: none waits behind another in a busy replica while an idle one could take it.
      prefetch: 1,
      // A transcode outlasts the shutdown grace: a stopping replica kills it and hands the job over.
      abandonOnStop: true,
      handler: worker.handle,
    });
    await bus.ensureStream(USERS_STREAM);
    privacyConsumer = await bus.consume<UserUpdatedEvent>({
      stream: USERS_STREAM.name,
      durable: PRIVACY_DURABLE,
      filterSubject: UsersSubjects.userUpdated,
      maxDeliver: 10,
      retryDelayMs: 5_000,
      handler: new PrivacyMover(repository, objects, logger).handle,
    });
    const running = [consumer, privacyConsumer];
    return await startSubgraphServer<Context>({
      ...commonServerOptions('media', deps, { s3: () => deps.storage.ping() }),
      schema: subgraphSchema('media', resolvers),
      context: ({ identity, req }) => ({
        identity,
        hints: clientHints(req.headers),
        loaders: createLoaders(repository, social, identity?.userId ?? null),
        media: service,
        objects,
      }),
      onStop: async () => {
        for (const c of running) await c.stop();
        await relay.stop();
        await socialInternal.close();
      },
    });
  } catch (error) {
    await consumer?.stop();
    await privacyConsumer?.stop();
    await relay.stop();
    await socialInternal.close();
    throw error;
  }
}

export { loadMediaConfig, type MediaConfig } from './config.ts';
export { checkVideoTools, videoToolsAdvice, type VideoToolsStatus } from './processing/video-tools.ts';
