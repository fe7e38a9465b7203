import { randomUUID } from 'node:crypto';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MEDIA_STREAM, MediaSubjects, type MediaProcessedEvent } from '@insta/events';
import { createObjectStorage, type Consumer } from '@insta/infra';
import { silentLogger } from '@insta/infra/testing';
import { MediaRepository } from '../src/media.repository.ts';
import { ObjectsRepository } from '../src/objects.repository.ts';
import { ProcessingWorker } from '../src/processing/processing.worker.ts';
import { COMPLETE_UPLOAD, MEDIA, postUpload, REQUEST_UPLOAD, shortMp4, sidewaysJpeg, startMediaHarness, type MediaHarness, type Ticket } from './harness.ts';

let h: MediaHarness;
let jpeg: Buffer;
let processedConsumer: Consumer;
const processed: MediaProcessedEvent[] = [];

const newUser = () => ({ userId: randomUUID(), sessionId: randomUUID() });
const owner = newUser();
const stranger = newUser();

beforeAll(async () => {
  h = await startMediaHarness();
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
const waitForStatus = (id: string, status: string) =>
  vi.waitFor(async () => expect((await mediaRow(id)).status).toBe(status), { timeout: 30_000, interval: 100 });

describe('requestUpload', () => {
  it('should reserve an AWAITING_UPLOAD media and return a POST form valid for minutes', async () => {
    const ticket = await requestUpload({ contentType: 'image/jpeg', size: 5000, altText: '  a cat  ' });
    expect(ticket.media).toEqual({ id: expect.any(String), status: 'AWAITING_UPLOAD', kind: 'IMAGE', contentType: 'image/jpeg', altText: 'a cat' });
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
    const tooBig = await h.request(REQUEST_UPLOAD, { input: { contentType: 'image/png', size: 16 * 1024 * 1024 + 1 } }, owner);
    expect(tooBig.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'size', maxBytes: 16 * 1024 * 1024 });
    const bigVideo = await h.request(REQUEST_UPLOAD, { input: { contentType: 'video/mp4', size: 16 * 1024 * 1024 + 1 } }, owner);
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
    expect(completed.body.data).toEqual({ completeUpload: { id: ticket.media.id, status: 'PROCESSING', kind: 'IMAGE', contentType: 'image/jpeg' } });
    await waitForStatus(ticket.media.id, 'READY');

    const res = await h.request(MEDIA, { id: ticket.media.id }, stranger);
    const media = res.body.data!.media;
    expect(media).toMatchObject({ status: 'READY', width: 600, height: 800, durationMs: null, blurhash: expect.stringMatching(/^.{20,}$/) });
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
    const { data } = await sharp(downloaded).extract({ left: 590, top: 5, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect(data[1]).toBeGreaterThan(150);

    expect(await objectExists((await mediaRow(ticket.media.id)).objectKey)).toBe(false);
    await vi.waitFor(() =>
      expect(processed).toContainEqual(expect.objectContaining({ mediaId: ticket.media.id, ownerId: owner.userId, kind: 'IMAGE', status: 'READY', eventId: expect.any(String), occurredAt: expect.any(String) })),
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
    await vi.waitFor(() => expect(processed).toContainEqual(expect.objectContaining({ mediaId: ticket.media.id, status: 'FAILED', reason: 'UNDECODABLE' })));
  });
});

describe('a video upload', () => {
  it('should go to READY with an HLS master playlist of two renditions, a poster and its duration', { timeout: 60_000 }, async () => {
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
  });
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

  it('should fail an upload larger than declared (the store here ignores the policy), and delete it', async () => {
    const ticket = await upload('image/jpeg', jpeg, 1000);
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
    expect((await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, null)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    expect((await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner)).body.errors).toBeUndefined();
    const again = await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
    await waitForStatus(ticket.media.id, 'READY');
    expect((await mediaRow(ticket.media.id)).processingAttempts).toBe(1);
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
  const worker = () =>
    new ProcessingWorker(
      new MediaRepository(h.db, () => {}),
      new ObjectsRepository(createObjectStorage(h.s3Env), undefined),
      { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe', maxSeconds: 60, timeoutMs: 30_000 },
      h.config.MEDIA_PROCESSING_MAX_DELIVER,
      silentLogger,
    );
  const job = (m: { id: string; ownerId: string; objectKey: string; size: number }) => ({
    subject: MediaSubjects.uploadCompleted,
    data: { mediaId: m.id, ownerId: m.ownerId, kind: 'IMAGE' as const, contentType: 'image/jpeg', objectKey: m.objectKey, size: m.size },
    deliveryCount: 2,
  });

  it('should do nothing with a redelivered job of media that is already READY', async () => {
    const ticket = await upload('image/jpeg', jpeg);
    await h.request(COMPLETE_UPLOAD, { id: ticket.media.id }, owner);
    await waitForStatus(ticket.media.id, 'READY');
    const before = await h.db.media.findUniqueOrThrow({ where: { id: ticket.media.id }, include: { variants: true } });
    await worker().handle(job(before));
    const after = await h.db.media.findUniqueOrThrow({ where: { id: ticket.media.id }, include: { variants: true } });
    expect(after).toEqual(before);
  });

  it('should retry a failing job, then fail the media and dead-letter the job on its last delivery', async () => {
    const media = await h.db.media.create({
      data: { ownerId: owner.userId, kind: 'IMAGE', status: 'PROCESSING', contentType: 'image/jpeg', size: 10, objectKey: `originals/${randomUUID()}` },
    });
    await expect(worker().handle({ ...job(media), deliveryCount: 1 })).rejects.toThrow();
    expect(await mediaRow(media.id)).toMatchObject({ status: 'PROCESSING', processingAttempts: 1 });
    await expect(worker().handle({ ...job(media), deliveryCount: h.config.MEDIA_PROCESSING_MAX_DELIVER })).rejects.toThrow();
    expect(await mediaRow(media.id)).toMatchObject({ status: 'FAILED', failureReason: 'PROCESSING_FAILED', processingAttempts: 2 });
  });
});

describe('mediaSummaries (internal)', () => {
  it('should summarize known ids and leave unknown and malformed ids out', async () => {
    const ticket = await requestUpload({ contentType: 'video/webm', size: 100 });
    const query = 'query($ids: [ID!]!) { mediaSummaries(ids: $ids) { id ownerId kind status } }';
    const res = await h.request(query, { ids: [ticket.media.id, randomUUID(), 'nope'] });
    expect(res.body.data).toEqual({ mediaSummaries: [{ id: ticket.media.id, ownerId: owner.userId, kind: 'VIDEO', status: 'AWAITING_UPLOAD' }] });
    const tooMany = await h.request(query, { ids: Array.from({ length: 101 }, () => randomUUID()) });
    expect(tooMany.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
  });

  it('should report the object store in its readiness checks', async () => {
    const res = await fetch(h.server.url.replace('/graphql', '/readyz'));
    expect(await res.json()).toMatchObject({ ok: true, checks: { s3: 'ok' } });
  });
});
