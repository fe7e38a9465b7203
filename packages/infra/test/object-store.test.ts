import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStorage, startEmbeddedObjectStore, type ObjectStorage } from '../src/index.ts';

let dir: string;
let store: Awaited<ReturnType<typeof startEmbeddedObjectStore>>;
let storage: ObjectStorage;
let base: string;
const BUCKET = 'front-test';
const PUBLIC_KEY = 'media/m-1/1/small.webp';
const ORIGINAL_KEY = 'originals/u-1/o-1';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'object-store-'));
  store = await startEmbeddedObjectStore({ directory: join(dir, 'store'), port: 0, bucket: BUCKET });
  storage = createObjectStorage(store.env);
  base = `${store.env.S3_ENDPOINT}/${BUCKET}`;
  await put(PUBLIC_KEY, 'public bytes', 'image/webp');
  await put(ORIGINAL_KEY, 'original with GPS', 'image/jpeg');
});
afterAll(async () => {
  await store.stop();
  await rm(dir, { recursive: true, force: true });
});

const put = (key: string, body: string, contentType: string) =>
  storage.client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(body), ContentType: contentType }),
  );
/** What the store holds under `key`, read with the store's credentials (null when absent). */
const read = async (key: string) => {
  try {
    const res = await storage.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { body: await res.Body!.transformToString(), contentType: res.ContentType };
  } catch {
    return null;
  }
};
const allKeys = async () =>
  ((await storage.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key).sort();

/** A raw request, so paths reach the store exactly as written (fetch would normalise `..`). */
function raw(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(store.env.S3_ENDPOINT);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function presignedPost(key: string, contentType: string, maxBytes: number, expires = 60) {
  return createPresignedPost(storage.client, {
    Bucket: BUCKET,
    Key: key,
    Conditions: [
      ['content-length-range', 1, maxBytes],
      ['eq', '$Content-Type', contentType],
    ],
    Fields: { 'Content-Type': contentType },
    Expires: expires,
  });
}

async function postForm(fields: Record<string, string>, body: string, fileType = 'application/octet-stream') {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([body], { type: fileType }), 'upload');
  const res = await fetch(base, { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}

describe('embedded object store: anonymous access', () => {
  it('should still serve public media to anyone', async () => {
    const res = await fetch(`${base}/${PUBLIC_KEY}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('public bytes');
  });

  it('should refuse an anonymous PUT over another user’s variant and keep the variant', async () => {
    const res = await fetch(`${base}/${PUBLIC_KEY}`, {
      method: 'PUT',
      body: '<script>evil</script>',
      headers: { 'content-type': 'text/html' },
    });
    expect(res.status).toBe(403);
    expect(await read(PUBLIC_KEY)).toEqual({ body: 'public bytes', contentType: 'image/webp' });
  });

  it('should refuse an anonymous DELETE and keep the object', async () => {
    expect((await fetch(`${base}/${PUBLIC_KEY}`, { method: 'DELETE' })).status).toBe(403);
    expect(await read(PUBLIC_KEY)).not.toBeNull();
  });

  it('should refuse anonymous listing, of the bucket and of the store', async () => {
    for (const url of [base, `${base}/`, `${base}?list-type=2`, `${base}?prefix=originals/`, store.env.S3_ENDPOINT]) {
      const res = await fetch(url);
      expect(res.status).toBeGreaterThanOrEqual(403);
      expect(await res.text()).not.toContain(ORIGINAL_KEY);
    }
  });

  it('should refuse anonymous reads outside the public prefixes (originals keep their EXIF)', async () => {
    expect((await fetch(`${base}/${ORIGINAL_KEY}`)).status).toBe(403);
    expect((await fetch(`${base}/private/m-2/1/small.webp`)).status).toBe(403);
    expect((await fetch(`${base}/${PUBLIC_KEY}?acl`)).status).toBe(403);
  });
});

describe('embedded object store: signatures', () => {
  it('should refuse a request signed with another secret, changing nothing', async () => {
    const forger = createObjectStorage({ ...store.env, S3_SECRET_ACCESS_KEY: 'not-the-secret' });
    await expect(
      forger.client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: PUBLIC_KEY,
          Body: Buffer.from('forged'),
          ContentType: 'text/html',
        }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    const wellKnown = createObjectStorage({ ...store.env, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' });
    await expect(wellKnown.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    expect(await read(PUBLIC_KEY)).toEqual({ body: 'public bytes', contentType: 'image/webp' });
  });

  it('should serve a pre-signed GET until it expires, and not once tampered with', async () => {
    const url = await getSignedUrl(storage.client, new GetObjectCommand({ Bucket: BUCKET, Key: ORIGINAL_KEY }), {
      expiresIn: 60,
    });
    expect(await (await fetch(url)).text()).toBe('original with GPS');
    const other = url.replace(encodeURIComponent(ORIGINAL_KEY).replace(/%2F/g, '/'), PUBLIC_KEY);
    expect((await fetch(other)).status).toBe(403);
    const signedLongAgo = new URL(url);
    signedLongAgo.searchParams.set('X-Amz-Date', '20200101T000000Z');
    expect((await fetch(signedLongAgo)).status).toBe(403);
  });
});

describe('embedded object store: POST uploads', () => {
  it('should store an upload that matches its policy, with the policy’s Content-Type', async () => {
    const post = await presignedPost('originals/u-1/ok', 'image/png', 100);
    expect((await postForm(post.fields, 'png bytes', 'image/png')).status).toBe(204);
    expect(await read('originals/u-1/ok')).toEqual({ body: 'png bytes', contentType: 'image/png' });
  });

  it('should refuse a form whose key was changed, storing nothing', async () => {
    const post = await presignedPost('originals/u-1/a', 'image/png', 100);
    const before = await allKeys();
    const res = await postForm({ ...post.fields, key: PUBLIC_KEY }, 'overwritten', 'image/png');
    expect(res.status).toBe(403);
    expect(await read(PUBLIC_KEY)).toEqual({ body: 'public bytes', contentType: 'image/webp' });
    expect(await allKeys()).toEqual(before);
  });

  it('should refuse a form whose Content-Type was changed (no text/html on the media origin)', async () => {
    const post = await presignedPost('originals/u-1/b', 'image/png', 100);
    const res = await postForm(
      { ...post.fields, 'Content-Type': 'text/html' },
      '<script>alert(1)</script>',
      'text/html',
    );
    expect(res.status).toBe(403);
    expect(await read('originals/u-1/b')).toBeNull();
  });

  it('should refuse a file larger than content-length-range, storing nothing', async () => {
    const post = await presignedPost('originals/u-1/c', 'image/png', 10);
    expect((await postForm(post.fields, 'x'.repeat(11), 'image/png')).status).toBe(400);
    expect(await read('originals/u-1/c')).toBeNull();
  });

  it('should refuse a form after its policy expired', async () => {
    const post = await presignedPost('originals/u-1/d', 'image/png', 100, -5);
    expect((await postForm(post.fields, 'late', 'image/png')).status).toBe(403);
    expect(await read('originals/u-1/d')).toBeNull();
  });

  it('should refuse a form with extra fields or a forged policy', async () => {
    const post = await presignedPost('originals/u-1/e', 'image/png', 100);
    expect((await postForm({ ...post.fields, 'x-amz-meta-owner': 'someone-else' }, 'png', 'image/png')).status).toBe(
      403,
    );
    const policy = JSON.parse(Buffer.from(post.fields.Policy!, 'base64').toString()) as { conditions: unknown[] };
    policy.conditions = policy.conditions.filter((c) => !(Array.isArray(c) && c[0] === 'content-length-range'));
    const forged = { ...post.fields, Policy: Buffer.from(JSON.stringify(policy)).toString('base64') };
    expect((await postForm(forged, 'x'.repeat(1000), 'image/png')).status).toBe(403);
    expect(await read('originals/u-1/e')).toBeNull();
  });
});

describe('embedded object store: browsers (CORS, answered by the front)', () => {
  const ORIGIN = 'http://127.0.0.1:4000';

  it('should answer the preflight of a browser POST upload without credentials', async () => {
    const res = await fetch(base, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-a' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('x-a');
  });

  it('should refuse a preflight for a write method, and an OPTIONS that is no preflight', async () => {
    const put = await fetch(`${base}/${PUBLIC_KEY}`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PUT' },
    });
    expect(put.status).toBe(403);
    expect(put.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${base}/${PUBLIC_KEY}`, { method: 'OPTIONS' })).status).toBe(403);
  });

  it('should let a page of another origin read the answer of its POST upload and of a public GET', async () => {
    const post = await presignedPost('originals/u-1/cors', 'image/png', 100);
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append('file', new Blob(['png'], { type: 'image/png' }), 'upload');
    const upload = await fetch(base, { method: 'POST', body: form, headers: { origin: ORIGIN } });
    expect(upload.status).toBe(204);
    expect(upload.headers.get('access-control-allow-origin')).toBe('*');
    expect(await read('originals/u-1/cors')).toEqual({ body: 'png', contentType: 'image/png' });
    const get = await fetch(`${base}/${PUBLIC_KEY}`, { headers: { origin: ORIGIN } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe('*');
    expect(get.headers.get('access-control-expose-headers')).toBe('ETag');
    // A refusal is readable too (the web client shows why its upload failed).
    const late = await presignedPost('originals/u-1/cors-late', 'image/png', 100, -5);
    const refused = await fetch(base, {
      method: 'POST',
      body: (() => {
        const f = new FormData();
        for (const [name, value] of Object.entries(late.fields)) f.append(name, value);
        f.append('file', new Blob(['png'], { type: 'image/png' }), 'upload');
        return f;
      })(),
      headers: { origin: ORIGIN },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    expect(await read('originals/u-1/cors-late')).toBeNull();
  });
});

describe('embedded object store: keys and addresses', () => {
  it('should refuse keys that climb out of the store’s folder, writing nothing outside it', async () => {
    const before = await readdir(dir);
    for (const path of [
      `/${BUCKET}/../../escape.txt`,
      `/${BUCKET}/..%2F..%2Fescape.txt`,
      `/${BUCKET}/%2Fetc%2Fescape.txt`,
      `/${BUCKET}/a/..\\..\\escape.txt`,
    ]) {
      expect((await raw('PUT', path, 'escaped')).status).toBeGreaterThanOrEqual(400);
    }
    const post = await presignedPost('../../escape.txt', 'image/png', 100);
    expect((await postForm(post.fields, 'escaped', 'image/png')).status).toBe(400);
    expect(await readdir(dir)).toEqual(before);
    expect(existsSync(join(dir, 'escape.txt'))).toBe(false);
    expect(existsSync(join(dir, '..', 'escape.txt'))).toBe(false);
  });

  it('should refuse keys that would touch s3rver’s own metadata files', async () => {
    const post = await presignedPost(`${PUBLIC_KEY}._S3rver_metadata.json`, 'image/png', 1000);
    expect((await postForm(post.fields, '{"content-type":"text/html"}', 'image/png')).status).toBe(400);
    await expect(
      storage.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: PUBLIC_KEY })),
    ).resolves.toMatchObject({
      ContentType: 'image/webp',
    });
  });

  it('should listen on loopback only', async () => {
    await expect(
      startEmbeddedObjectStore({ directory: join(dir, 'other'), port: 0, bucket: BUCKET, host: '0.0.0.0' }),
    ).rejects.toThrow(/loopback/);
  });
});
