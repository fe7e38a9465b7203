import { randomUUID } from 'node:crypto';
import { TEST_SERVICE } from '@insta/infra/testing';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MEDIA_STREAM, MediaSubjects, type MediaProcessedEvent, type MediaUploadCompletedEvent } from '@insta/events';
import { createObjectStorage, deadLetterSubject, type Consumer, type Identity } from '@insta/infra';
import { silentLogger } from '@insta/infra/testing';
import { MediaRepository, type ProcessedMedia } from '../src/media.repository.ts';
import { MediaService } from '../src/media.service.ts';
import { ObjectsRepository } from '../src/objects.repository.ts';
import { ProcessingWorker } from '../src/processing/processing.worker.ts';
import {
  COMPLETE_UPLOAD,
  MEDIA,
  postUpload,
  REQUEST_UPLOAD,
  shortMp4,
  sidewaysJpeg,
  startMediaHarness,
  type MediaHarness,
  type Ticket,
} from './harness.ts';

let h: MediaHarness;
let jpeg: Buffer;
let processedConsumer: Consumer;
const processed: MediaProcessedEvent[] = [];

let owner: Identity;
let stranger: Identity;

beforeAll(async () => {
  h = await startMediaHarness();
  [owner, stranger] = await Promise.all([h.account(), h.account()]);
  jpeg = await sidewaysJpeg();
  processedConsumer = await h.bus.consume<MediaProcessedEvent>({
    stream: MEDIA_STREAM.name,
    durable: 'test-processed',
    filterSubject: MediaSubjects.processed,
    maxDeliver: 1,
    handler: async (m) => void processed.push(m.data),
  });
});
afterAll(async () => {
  await processedConsumer.stop();
  await h.stop();
});

async function requestUpload(input: { contentType: string; size: number; altText?: string }, identity = owner) {
  const res = await h.request<{ requestUpload: Ticket }>(REQUEST_UPLOAD, { input }, identity);
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.requestUpload;
}

async function upload(contentType: string, body: Uint8Array, declaredSize = body.length) {
  const ticket = await requestUpload({ contentType, size: declaredSize });
  expect(await postUpload(ticket, body, contentType)).toBe(204);
  return ticket;
}

const mediaRow = (id: string) => h.db.media.findUniqueOrThrow({ where: { id } });
const objectExists = async (key: string) => {
  const storage = createObjectStorage(h.s3Env);
  return storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key })).then(
    () => true,
    () => false,
  );
};
const keysUnder = async (prefix: string) => {
  const storage = createObjectStorage(h.s3Env);
  const page = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key);
};
/**
 * Runs `fn` while holding the media outbox relay's lock (prisma/src/outbox.ts): no job written meanwhile is
 * published, so the worker cannot start before `fn` is done.
 */
const withJobsHeld = (fn: () => Promise<void>) =>
  h.db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('media.outbox'))`;
      await fn();
    },
    { timeout: 20_000 },
  );
const waitForStatus = (id: string, status: string) =>
  vi.waitFor(async () => expect((await mediaRow(id)).status).toBe(status), { timeout: 30_000, interval: 100 });

describe('requestUpload', () => {
  it('should reserve an AWAITING_UPLOAD media and return a POST form valid for minutes', async () => {
    const ticket = await requestUpload({ contentType: 'image/jpeg', size: 5000, altText: '  a cat  ' });
    expect(ticket.media).toEqual({
      id: expect.any(String),
      status: 'AWAITING_UPLOAD',
      kind: 'IMAGE',
      contentType: 'image/jpeg',
      altText: 'a cat',
    });
    expect(ticket.url).toBe(`${h.s3Env.S3_ENDPOINT}/media-test`);
    const fields = Object.fromEntries(ticket.fields.map((f) => [f.name, f.value]));
    expect(fields['Content-Type']).toBe('image/jpeg');
    expect(fields.key).toBe((await mediaRow(ticket.media.id)).objectKey);
    const minutes = (Date.parse(ticket.expiresAt) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(5);
    expect(minutes).toBeLessThanOrEqual(10);
  });

  it('should reject unsupported types, sizes over the limit and anonymous callers, writing nothing', async () => {
    const before = await h.db.media.count();
    const badType = await h.request(REQUEST_UPLOAD, { input: { contentType: 'application/pdf', size: 10 } }, owner);
    expect(badType.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'contentType' });
    const tooBig = await h.request(
      REQUEST_UPLOAD,
      { input: { contentType: 'image/png', size: 16 * 1024 * 1024 + 1 } },
      owner,
    );
    expect(tooBig.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'size',
      maxBytes: 16 * 1024 * 1024,
    });
    const bigVideo = await h.request(
      REQUEST_UPLOAD,
      { input: { contentType: 'video/mp4', size: 16 * 1024 * 1024 + 1 } },
      owner,
    );
    expect(bigVideo.body.errors).toBeUndefined();
    const anonymous = await h.request(REQUEST_UPLOAD, { input: { contentType: 'image/png', size: 10 } }, null);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await h.db.media.count()).toBe(before + 1);
  });
});

describe('an image upload', () => {
  it('should go from a multipart POST to READY WebP and JPEG variants, oriented and stripped of EXIF', async () => {
    const ticket = await upload('image/jpeg', jpeg);
    const completed = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(completed.body.data).toEqual({
      completeUpload: { id: ticket.media.id, status: 'PROCESSING', kind: 'IMAGE', contentType: 'image/jpeg' },
    });
    await waitForStatus(ticket.media.id, 'READY');

    const res = await h.request(MEDIA, { id: ticket.media.id }, stranger);
    const media = res.body.data!.media;
    expect(media).toMatchObject({
      status: 'READY',
      width: 600,
      height: 800,
      durationMs: null,
      blurhash: expect.stringMatching(/^.{20,}$/),
    });
    const names = media.variants.map((v: { name: string }) => v.name).sort();
    expect(names).toEqual(['medium-jpeg', 'medium-webp', 'small-jpeg', 'small-webp', 'thumb-jpeg', 'thumb-webp']);
    const medium = media.variants.find((v: { name: string }) => v.name === 'medium-jpeg');
    expect(medium).toMatchObject({ width: 600, height: 800, contentType: 'image/jpeg' });

    const downloaded = Buffer.from(await (await fetch(medium.url)).arrayBuffer());
    const meta = await sharp(downloaded).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 600, height: 800 });
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    // The top-left corner of the stored image is green; turned a quarter clockwise it is at the top right.
    const { data } = await sharp(downloaded)
      .extract({ left: 590, top: 5, width: 1, height: 1 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(data[1]).toBeGreaterThan(150);

    expect(await objectExists((await mediaRow(ticket.media.id)).objectKey)).toBe(false);
    await vi.waitFor(() =>
      expect(processed).toContainEqual(
        expect.objectContaining({
          mediaId: ticket.media.id,
          ownerId: owner.userId,
          kind: 'IMAGE',
          status: 'READY',
          eventId: expect.any(String),
          occurredAt: expect.any(String),
        }),
      ),
    );
  });

  it('should pick the URL from Save-Data, DPR and Viewport-Width, or from the variant asked for', async () => {
    const ticket = await upload('image/jpeg', jpeg);
    await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    await waitForStatus(ticket.media.id, 'READY');
    const query = 'query($id: ID!, $v: String) { media(id: $id) { url(variant: $v) } }';
    const urlFor = async (headers: Record<string, string>, v?: string) =>
      (await h.requestWithHeaders(query, { id: ticket.media.id, v }, null, headers)).body.data!.media.url as string;

    expect(await urlFor({ 'save-data': 'on', dpr: '3', 'viewport-width': '1000' })).toMatch(/\/small-webp\.webp$/);
    expect(await urlFor({ dpr: '1', 'viewport-width': '100' })).toMatch(/\/thumb-webp\.webp$/);
    expect(await urlFor({ dpr: '2', 'viewport-width': '400' })).toMatch(/\/medium-webp\.webp$/);
    expect(await urlFor({}, 'small-jpeg')).toMatch(/\/small-jpeg\.jpeg$/);
    expect(await urlFor({})).toMatch(new RegExp(`^${h.s3Env.S3_ENDPOINT}/media-test/media/${ticket.media.id}/`));
    const unknown = await h.request(query, { id: ticket.media.id, v: 'huge' });
    expect(unknown.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variant' });
  });

  it('should give no URL, rather than an error, when no variant was named and none fits', async () => {
    const media = await h.db.media.create({
      data: {
        ownerId: owner.userId,
        kind: 'VIDEO',
        status: 'READY',
        contentType: 'video/mp4',
        size: 10,
        objectKey: `originals/${randomUUID()}`,
        width: 640,
        height: 360,
        durationMs: 1000,
        variants: {
          create: [
            {
              name: 'poster',
              objectKey: `media/${randomUUID()}/1/poster.jpeg`,
              contentType: 'image/jpeg',
              width: 640,
              height: 360,
              size: 10,
            },
          ],
        },
      },
    });
    const query = 'query($id: ID!, $v: String) { media(id: $id) { url(variant: $v) } }';
    const unnamed = await h.request(query, { id: media.id }, stranger);
    expect(unnamed.body).toEqual({ data: { media: { url: null } } });
    const named = await h.request(query, { id: media.id, v: 'hls' }, stranger);
    expect(named.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variant' });
    expect((await h.request(query, { id: media.id, v: 'poster' }, stranger)).body.data!.media.url).toMatch(
      /\/poster\.jpeg$/,
    );
  });

  it('should show unfinished media to its owner only', async () => {
    const ticket = await requestUpload({ contentType: 'image/png', size: 100 });
    expect((await h.request(MEDIA, { id: ticket.media.id }, stranger)).body.data).toEqual({ media: null });
    expect((await h.request(MEDIA, { id: ticket.media.id }, null)).body.data).toEqual({ media: null });
    const own = (await h.request(MEDIA, { id: ticket.media.id }, owner)).body.data!.media;
    expect(own).toMatchObject({ status: 'AWAITING_UPLOAD', url: null, variants: [] });
  });

  it('should fail an image that has JPEG magic bytes but cannot be decoded, without retrying', async () => {
    const broken = Buffer.concat([jpeg.subarray(0, 200), Buffer.alloc(2000, 7)]);
    const ticket = await upload('image/jpeg', broken);
    await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    await waitForStatus(ticket.media.id, 'FAILED');
    expect(await mediaRow(ticket.media.id)).toMatchObject({ failureReason: 'UNDECODABLE', processingAttempts: 1 });
    await vi.waitFor(() =>
      expect(processed).toContainEqual(
        expect.objectContaining({ mediaId: ticket.media.id, status: 'FAILED', reason: 'UNDECODABLE' }),
      ),
    );
  });
});

describe('a video upload', () => {
  it(
    'should go to READY with an HLS master playlist of two renditions, a poster and its duration',
    { timeout: 60_000 },
    async () => {
      const mp4 = await shortMp4();
      const ticket = await upload('video/mp4', mp4);
      const completed = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
      expect(completed.body.data!.completeUpload).toMatchObject({ status: 'PROCESSING', kind: 'VIDEO' });
      await waitForStatus(ticket.media.id, 'READY');

      const media = (await h.request(MEDIA, { id: ticket.media.id }, stranger)).body.data!.media;
      expect(media).toMatchObject({ kind: 'VIDEO', width: 1280, height: 720, blurhash: expect.any(String) });
      expect(media.durationMs).toBeGreaterThan(1300);
      expect(media.durationMs).toBeLessThan(1700);
      const byName = Object.fromEntries(media.variants.map((v: { name: string }) => [v.name, v]));
      expect(Object.keys(byName).sort()).toEqual(['hls', 'hls-360p', 'hls-720p', 'poster']);
      expect(byName['hls-360p']).toMatchObject({ width: 640, height: 360 });
      expect(media.url).toBe(byName.hls.url);

      const master = await (await fetch(byName.hls.url)).text();
      expect(master.match(/#EXT-X-STREAM-INF/g)).toHaveLength(2);
      expect(master).toContain('360p/index.m3u8');
      expect(master).toContain('720p/index.m3u8');
      const playlist = await (await fetch(byName['hls-720p'].url)).text();
      const segment = playlist.split('\n').find((l) => l.endsWith('.ts'))!;
      const segmentRes = await fetch(new URL(segment, byName['hls-720p'].url));
      expect(segmentRes.status).toBe(200);
      expect((await segmentRes.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      const poster = await sharp(Buffer.from(await (await fetch(byName.poster.url)).arrayBuffer())).metadata();
      expect(poster).toMatchObject({ format: 'jpeg', width: 1080, height: 608 });
    },
  );
});

describe('completeUpload', () => {
  it('should fail an upload whose bytes are not the declared type, and delete it', async () => {
    const ticket = await upload('image/png', jpeg);
    const res = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TYPE_MISMATCH' });
    const row = await mediaRow(ticket.media.id);
    expect(row).toMatchObject({ status: 'FAILED', failureReason: 'TYPE_MISMATCH' });
    expect(await objectExists(row.objectKey)).toBe(false);
  });

  it('should still give the typed error when the rejected upload cannot be deleted', async () => {
    class UndeletableObjects extends ObjectsRepository {
      override delete(): Promise<void> {
        return Promise.reject(new Error('object store unavailable'));
      }
    }
    const service = new MediaService(
      new MediaRepository(h.db, () => {}),
      new UndeletableObjects(createObjectStorage(h.s3Env), undefined),
      h.config,
      silentLogger,
    );
    const ticket = await upload('image/png', jpeg);
    await expect(service.completeUpload(owner.userId, ticket.media.id)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', reason: 'TYPE_MISMATCH', field: 'mediaId' },
    });
    expect(await mediaRow(ticket.media.id)).toMatchObject({ status: 'FAILED', failureReason: 'TYPE_MISMATCH' });
  });

  it('should not process an original overwritten after it was verified, failing it as OBJECT_CHANGED', async () => {
    const ticket = await upload('image/jpeg', jpeg);
    const other = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .jpeg()
      .toBuffer();
    await withJobsHeld(async () => {
      const completed = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
      expect(completed.body.data?.completeUpload).toMatchObject({ status: 'PROCESSING' });
      // The same form, posted again: it stays valid until it expires.
      expect(await postUpload(ticket, other, 'image/jpeg')).toBe(204);
    });
    await waitForStatus(ticket.media.id, 'FAILED');
    const row = await mediaRow(ticket.media.id);
    expect(row).toMatchObject({ failureReason: 'OBJECT_CHANGED', processingAttempts: 1, width: null });
    expect(await keysUnder(`media/${ticket.media.id}/`)).toEqual([]);
    expect(await objectExists(row.objectKey)).toBe(false);
    await vi.waitFor(() =>
      expect(processed).toContainEqual(
        expect.objectContaining({ mediaId: ticket.media.id, status: 'FAILED', reason: 'OBJECT_CHANGED' }),
      ),
    );
  });

  it('should fail an upload larger than declared (written around the policy), and delete it', async () => {
    const ticket = await requestUpload({ contentType: 'image/jpeg', size: 1000 });
    expect(await postUpload(ticket, jpeg, 'image/jpeg')).toBe(400);
    // A store that did not enforce content-length-range: the object is put with the store's own credentials.
    const storage = createObjectStorage(h.s3Env);
    const key = (await mediaRow(ticket.media.id)).objectKey;
    await storage.client.send(
      new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: jpeg, ContentType: 'image/jpeg' }),
    );
    const res = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'SIZE_MISMATCH' });
    const row = await mediaRow(ticket.media.id);
    expect(row).toMatchObject({ status: 'FAILED', failureReason: 'SIZE_MISMATCH' });
    expect(await objectExists(row.objectKey)).toBe(false);
  });

  it('should refuse strangers, unknown ids and a second completion, changing nothing', async () => {
    const ticket = await upload('image/jpeg', jpeg);
    const byStranger = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, stranger);
    expect(byStranger.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await mediaRow(ticket.media.id)).status).toBe('AWAITING_UPLOAD');
    for (const id of [randomUUID(), 'not-a-uuid']) {
      expect((await h.request(COMPLETE_UPLOAD, { id }, owner)).body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, null)).body.errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );

    expect((await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner)).body.errors).toBeUndefined();
    const again = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
    await waitForStatus(ticket.media.id, 'READY');
    expect((await mediaRow(ticket.media.id)).processingAttempts).toBe(1);
  });

  it('should not complete an upload whose object was written after the form expired, and delete it', async () => {
    const ticket = await requestUpload({ contentType: 'image/jpeg', size: jpeg.length });
    const expired = new Date(Date.now() - 60_000);
    await h.db.media.update({ where: { id: ticket.media.id }, data: { uploadExpiresAt: expired } });
    // Written now, a minute after the expiry: as a store that ignored the policy's expiration would have let it in.
    const storage = createObjectStorage(h.s3Env);
    const key = (await mediaRow(ticket.media.id)).objectKey;
    await storage.client.send(
      new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: jpeg, ContentType: 'image/jpeg' }),
    );
    const res = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UPLOAD_EXPIRED' });
    expect(await mediaRow(ticket.media.id)).toMatchObject({ status: 'FAILED', failureReason: 'UPLOAD_EXPIRED' });
    expect(await objectExists(key)).toBe(false);
  });

  it('should leave a media waiting when nothing was uploaded yet, and fail it once the upload window closed', async () => {
    const ticket = await requestUpload({ contentType: 'image/jpeg', size: 100 });
    const early = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(early.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'mediaId' });
    expect((await mediaRow(ticket.media.id)).status).toBe('AWAITING_UPLOAD');

    await h.db.media.update({ where: { id: ticket.media.id }, data: { uploadExpiresAt: new Date(Date.now() - 1000) } });
    const late = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(late.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UPLOAD_EXPIRED' });
    expect(await mediaRow(ticket.media.id)).toMatchObject({ status: 'FAILED', failureReason: 'UPLOAD_EXPIRED' });
  });
});

describe('the processing worker', () => {
  const worker = (media = new MediaRepository(h.db, () => {})) =>
    new ProcessingWorker(
      media,
      new ObjectsRepository(createObjectStorage(h.s3Env), undefined),
      { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe', maxSeconds: 60, timeoutMs: 30_000 },
      silentLogger,
      async () => false,
    );
  const job = (
    m: { id: string; ownerId: string; kind: 'IMAGE' | 'VIDEO'; contentType: string; objectKey: string; size: number },
    etag = '"none"',
  ) => ({
    subject: MediaSubjects.uploadCompleted,
    data: {
      mediaId: m.id,
      ownerId: m.ownerId,
      kind: m.kind,
      contentType: m.contentType,
      objectKey: m.objectKey,
      size: m.size,
      etag,
    },
    deliveryCount: 1,
    lastTry: false,
    signal: new AbortController().signal,
  });
  /** PROCESSING media over an uploaded original, as if completeUpload had verified it, but with no job published. */
  async function processingMedia(contentType: string, body: Uint8Array) {
    const ticket = await upload(contentType, body);
    const media = await h.db.media.update({ where: { id: ticket.media.id }, data: { status: 'PROCESSING' } });
    const storage = createObjectStorage(h.s3Env);
    const head = await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: media.objectKey }));
    return { media, etag: head.ETag! };
  }

  it('should do nothing with a redelivered job of media that is already READY', async () => {
    const ticket = await upload('image/jpeg', jpeg);
    await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    await waitForStatus(ticket.media.id, 'READY');
    const before = await h.db.media.findUniqueOrThrow({ where: { id: ticket.media.id }, include: { variants: true } });
    await worker().handle({ ...job(before), deliveryCount: 2 });
    const after = await h.db.media.findUniqueOrThrow({ where: { id: ticket.media.id }, include: { variants: true } });
    expect(after).toEqual(before);
  });

  it('should fail, without retrying, an image whose bytes are not of its verified type', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .png()
      .toBuffer();
    const { media, etag } = await processingMedia('image/jpeg', png);
    await worker().handle(job(media, etag));
    expect(await mediaRow(media.id)).toMatchObject({
      status: 'FAILED',
      failureReason: 'TYPE_MISMATCH',
      processingAttempts: 1,
    });
    expect(await keysUnder(`media/${media.id}/`)).toEqual([]);
  });

  it(
    'should open a video only with the demuxer of its verified type, so a playlist naming local files is UNDECODABLE',
    { timeout: 30_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'media-secret-'));
      try {
        // Sniffed from its content, this is an HLS playlist that ffmpeg would follow to the local file.
        const secret = join(dir, 'secret.mp4');
        await writeFile(secret, await shortMp4());
        const playlist = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.5,\n${secret}\n#EXT-X-ENDLIST\n`;
        const { media, etag } = await processingMedia('video/mp4', Buffer.from(playlist));
        await worker().handle(job(media, etag));
        expect(await mediaRow(media.id)).toMatchObject({
          status: 'FAILED',
          failureReason: 'UNDECODABLE',
          processingAttempts: 1,
          durationMs: null,
        });
        expect(await keysUnder(`media/${media.id}/`)).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('should kill the transcode and leave the media PROCESSING when its job is abandoned on shutdown, even on its last try', async () => {
    const { media, etag } = await processingMedia('video/mp4', await shortMp4());
    const shutdown = new AbortController();
    shutdown.abort();
    const failure = await worker()
      .handle({ ...job(media, etag), lastTry: true, signal: shutdown.signal })
      .catch((e: unknown) => e);
    expect(failure).toMatchObject({ name: 'AbortError' });
    expect(await mediaRow(media.id)).toMatchObject({ status: 'PROCESSING', failureReason: null });
    // The next replica's attempt processes it.
    await worker().handle(job(media, etag));
    expect(await mediaRow(media.id)).toMatchObject({ status: 'READY' });
  });

  it('should delete what it uploaded when the media left PROCESSING while it worked', async () => {
    class FailedMeanwhile extends MediaRepository {
      override async markReady(id: string, result: ProcessedMedia) {
        await this.fail(id, 'PROCESSING', 'PROCESSING_FAILED');
        return super.markReady(id, result);
      }
    }
    const { media, etag } = await processingMedia('image/jpeg', jpeg);
    await worker(new FailedMeanwhile(h.db, () => {})).handle(job(media, etag));
    expect(await mediaRow(media.id)).toMatchObject({ status: 'FAILED', failureReason: 'PROCESSING_FAILED' });
    expect(await h.db.mediaVariant.count({ where: { mediaId: media.id } })).toBe(0);
    expect(await keysUnder(`media/${media.id}/`)).toEqual([]);
  });

  it('should retry a failing job, then fail the media and dead-letter the job on its last delivery', async () => {
    // A consumer of its own, like the subgraph's but on a subject of this test and with a short retry delay.
    const durable = 'test-processing';
    const subject = 'media.test.processing';
    const deadLetters: { subject: string; data: MediaUploadCompletedEvent; reason: string }[] = [];
    const dlq = await h.bus.consume<(typeof deadLetters)[number]>({
      stream: MEDIA_STREAM.name,
      durable: 'test-processing-dlq',
      filterSubject: deadLetterSubject(MEDIA_STREAM.name, durable),
      maxDeliver: 1,
      handler: async (m) => void deadLetters.push(m.data),
    });
    const attempts: number[] = [];
    const consumer = await h.bus.consume<MediaUploadCompletedEvent>({
      stream: MEDIA_STREAM.name,
      durable,
      filterSubject: subject,
      maxDeliver: h.config.MEDIA_PROCESSING_MAX_DELIVER,
      retryDelayMs: 10,
      handler: (m) => {
        attempts.push(m.deliveryCount);
        return worker().handle(m);
      },
    });
    try {
      // No original in the store: every attempt fails, and not because of the media itself.
      const media = await h.db.media.create({
        data: {
          ownerId: owner.userId,
          kind: 'IMAGE',
          status: 'PROCESSING',
          contentType: 'image/jpeg',
          size: 10,
          objectKey: `originals/${randomUUID()}`,
        },
      });
      await h.bus.publish(subject, job(media).data);
      await vi.waitFor(() => expect(deadLetters).toHaveLength(1), { timeout: 15_000, interval: 50 });
      expect(deadLetters[0]).toMatchObject({ subject, data: { mediaId: media.id } });
      expect(attempts).toEqual(Array.from({ length: h.config.MEDIA_PROCESSING_MAX_DELIVER }, (_, i) => i + 1));
      expect(await mediaRow(media.id)).toMatchObject({
        status: 'FAILED',
        failureReason: 'PROCESSING_FAILED',
        processingAttempts: h.config.MEDIA_PROCESSING_MAX_DELIVER,
      });
    } finally {
      await consumer.stop();
      await dlq.stop();
    }
  });
});

describe('mediaSummaries (internal)', () => {
  it('should summarize known ids and leave unknown and malformed ids out', async () => {
    const ticket = await requestUpload({ contentType: 'video/webm', size: 100 });
    const query = 'query($ids: [ID!]!) { mediaSummaries(ids: $ids) { id ownerId kind status } }';
    const res = await h.request(query, { ids: [ticket.media.id, randomUUID(), 'nope'] }, TEST_SERVICE);
    expect(res.body.data).toEqual({
      mediaSummaries: [{ id: ticket.media.id, ownerId: owner.userId, kind: 'VIDEO', status: 'AWAITING_UPLOAD' }],
    });
    const tooMany = await h.request(query, { ids: Array.from({ length: 101 }, () => randomUUID()) }, TEST_SERVICE);
    expect(tooMany.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
  });

  it('should report the object store in its readiness checks', async () => {
    const res = await fetch(h.server.url.replace('/graphql', '/readyz'));
    expect(await res.json()).toMatchObject({ ok: true, checks: { s3: 'ok' } });
  });
});
