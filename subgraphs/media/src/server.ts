import { outboxStore, type PrismaClient } from '@insta/db';
import { MEDIA_STREAM, MediaSubjects, type MediaUploadCompletedEvent } from '@insta/events';
import {
  commonServerOptions,
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
import { ProcessingWorker } from './processing/processing.worker.ts';
import { resolvers } from './resolvers/index.ts';

export type MediaDeps = SubgraphDeps<MediaConfig, PrismaClient> & { storage: ObjectStorage };

/** The durable consumer of processing jobs, inside the media process. */
export const PROCESSING_DURABLE = 'media-processing';

export async function startMediaSubgraph(deps: MediaDeps): Promise<RunningServer> {
  const { config, bus, logger } = deps;
  await ensureBucket(deps.storage);
  await bus.ensureStream(MEDIA_STREAM);
  const relay = new OutboxRelay(outboxStore(deps.db, 'media.outbox'), bus, logger);
  relay.start();
  const repository = new MediaRepository(deps.db, () => relay.notify());
  const objects = new ObjectsRepository(deps.storage, config.MEDIA_UPLOAD_URL);
  const service = new MediaService(repository, objects, config, logger);
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
  );
  let consumer: Consumer | undefined;
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
    const running = consumer;
    return await startSubgraphServer<Context>({
      ...commonServerOptions('media', deps, { s3: () => deps.storage.ping() }),
      schema: subgraphSchema('media', resolvers),
      context: ({ identity, req }) => ({
        identity,
        hints: clientHints(req.headers),
        loaders: createLoaders(repository),
        media: service,
        objects,
      }),
      onStop: async () => {
        await running.stop();
        await relay.stop();
      },
    });
  } catch (error) {
    await consumer?.stop();
    await relay.stop();
    throw error;
  }
}

export { loadMediaConfig, type MediaConfig } from './config.ts';
