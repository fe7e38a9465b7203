import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaSubjects } from '@insta/events';
import { createObjectStorage } from '@insta/infra';
import { silentLogger } from '@insta/infra/testing';
import { MediaRepository } from '../src/media.repository.ts';
import { ObjectsRepository } from '../src/objects.repository.ts';
import { ProcessingWorker } from '../src/processing/processing.worker.ts';
import { checkVideoTools, videoToolsAdvice } from '../src/processing/video-tools.ts';
import {
  MEDIA,
  postUpload,
  REQUEST_UPLOAD,
  shortMp4,
  sidewaysJpeg,
  startMediaHarness,
  type MediaHarness,
  type Ticket,
} from './harness.ts';

const MISSING_FFMPEG = '/nonexistent/bin/ffmpeg';
const owner = { userId: randomUUID(), sessionId: randomUUID() };
const stranger = { userId: randomUUID(), sessionId: randomUUID() };

describe('checkVideoTools', () => {
  it('should find the installed ffmpeg and ffprobe', async () => {
    expect(await checkVideoTools({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' })).toEqual({
      available: true,
      missing: [],
    });
  });

  it('should name each binary that does not start, and say how to install them', async () => {
    const status = await checkVideoTools({ ffmpegPath: MISSING_FFMPEG, ffprobePath: '/nonexistent/bin/ffprobe' });
    expect(status).toEqual({ available: false, missing: [MISSING_FFMPEG, '/nonexistent/bin/ffprobe'] });
    expect(videoToolsAdvice(status)).toMatch(/apt-get install ffmpeg/);
  });
});

describe('a media subgraph without ffmpeg', () => {
  let h: MediaHarness;
  beforeAll(async () => {
    h = await startMediaHarness({ FFMPEG_PATH: MISSING_FFMPEG });
  });
  afterAll(() => h.stop());

  it('should refuse a video upload with VIDEO_PROCESSING_UNAVAILABLE, reserving nothing', async () => {
    const before = await h.db.media.count();
    const res = await h.request(REQUEST_UPLOAD, { input: { contentType: 'video/mp4', size: 1000 } }, owner);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      code: 'VIDEO_PROCESSING_UNAVAILABLE',
      field: 'contentType',
    });
    expect(res.body.data).toBeNull();
    expect(await h.db.media.count()).toBe(before);
  });

  it('should still take images', async () => {
    const jpeg = await sidewaysJpeg();
    const res = await h.request<{ requestUpload: Ticket }>(
      REQUEST_UPLOAD,
      { input: { contentType: 'image/jpeg', size: jpeg.length } },
      owner,
    );
    expect(res.body.errors).toBeUndefined();
    expect(await postUpload(res.body.data!.requestUpload, jpeg, 'image/jpeg')).toBe(204);
  });

  it('should fail a video accepted before ffmpeg went missing at once, with a reason only its owner reads', async () => {
    // Accepted while the tools were there (reserved directly), then processed here, where they are not.
    const video = await shortMp4();
    const media = await h.db.media.create({
      data: {
        ownerId: owner.userId,
        kind: 'VIDEO',
        status: 'AWAITING_UPLOAD',
        contentType: 'video/mp4',
        size: video.length,
        objectKey: `originals/${owner.userId}/${randomUUID()}`,
      },
    });
    const objects = new ObjectsRepository(createObjectStorage(h.s3Env), undefined);
    const dir = await mkdtemp(join(tmpdir(), 'media-no-ffmpeg-'));
    try {
      await writeFile(join(dir, 'clip.mp4'), video);
      await objects.putFile(media.objectKey, join(dir, 'clip.mp4'), 'video/mp4');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const head = await objects.head(media.objectKey);
    await h.db.media.update({ where: { id: media.id }, data: { status: 'PROCESSING' } });

    const worker = new ProcessingWorker(
      new MediaRepository(h.db, () => {}),
      objects,
      { ffmpegPath: MISSING_FFMPEG, ffprobePath: 'ffprobe', maxSeconds: 60, timeoutMs: 30_000 },
      silentLogger,
      async () => false,
    );
    const data = {
      mediaId: media.id,
      ownerId: owner.userId,
      kind: 'VIDEO' as const,
      contentType: 'video/mp4',
      objectKey: media.objectKey,
      size: video.length,
      etag: head!.etag,
    };
    await worker.handle({
      subject: MediaSubjects.uploadCompleted,
      data,
      deliveryCount: 1,
      lastTry: false,
      signal: new AbortController().signal,
    });
    expect(await h.db.media.findUniqueOrThrow({ where: { id: media.id } })).toMatchObject({
      status: 'FAILED',
      failureReason: 'VIDEO_PROCESSING_UNAVAILABLE',
      processingAttempts: 1,
    });

    const mine = await h.request(MEDIA.replace('blurhash', 'blurhash failureReason'), { id: media.id }, owner);
    expect(mine.body.data?.media).toMatchObject({
      status: 'FAILED',
      failureReason: 'VIDEO_PROCESSING_UNAVAILABLE',
      url: null,
    });
    // Others reach FAILED media only through a reference (an avatar, a post): without its reason.
    const entities =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Media { id status failureReason } } }';
    const representations = [{ __typename: 'Media', id: media.id }];
    expect((await h.request(entities, { r: representations }, stranger)).body.data).toEqual({
      _entities: [{ id: media.id, status: 'FAILED', failureReason: null }],
    });
    expect((await h.request(entities, { r: representations }, owner)).body.data).toEqual({
      _entities: [{ id: media.id, status: 'FAILED', failureReason: 'VIDEO_PROCESSING_UNAVAILABLE' }],
    });
  });
});
