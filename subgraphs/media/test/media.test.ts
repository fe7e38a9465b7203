import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStorage, startEmbeddedObjectStore } from '@insta/infra';
import { startSubgraphHarness } from '@insta/test-support';
import { loadMediaConfig, startMediaSubgraph } from '../src/server.ts';

let dir: string;
let s3: Awaited<ReturnType<typeof startEmbeddedObjectStore>>;
let h: Awaited<ReturnType<typeof startHarness>>;
const startHarness = () =>
  startSubgraphHarness({
    name: 'media',
    loadConfig: loadMediaConfig,
    start: (deps) => startMediaSubgraph({ ...deps, storage: createObjectStorage(deps.config) }),
    env: s3.env,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'media-test-'));
  s3 = await startEmbeddedObjectStore({ directory: dir, port: 0, bucket: 'media-test' });
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('media', () => {
  it('should return a media item by id and null for unknown ids', async () => {
    const media = await h.db.media.create({
      data: { ownerId: randomUUID(), kind: 'IMAGE', contentType: 'image/jpeg', size: 1234, objectKey: `test/${randomUUID()}`, altText: 'a cat' },
    });
    const res = await h.request('query($id: ID!) { media(id: $id) { id kind status contentType altText width } }', { id: media.id });
    expect(res.body.data!.media).toEqual({ id: media.id, kind: 'IMAGE', status: 'AWAITING_UPLOAD', contentType: 'image/jpeg', altText: 'a cat', width: null });
    const unknown = await h.request('query($id: ID!) { media(id: $id) { id } }', { id: randomUUID() });
    expect(unknown.body.data).toEqual({ media: null });
  });

  it('should report the object store in its readiness checks', async () => {
    const res = await fetch(h.server.url.replace('/graphql', '/readyz'));
    expect(await res.json()).toMatchObject({ ok: true, checks: { s3: 'ok' } });
  });
});
