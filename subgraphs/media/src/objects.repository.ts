import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectStorage } from '@insta/infra';

export interface PresignedUpload {
  url: string;
  fields: Record<string, string>;
  expiresAt: Date;
}

/** Variants never change under a key (a new upload is a new media), so caches may keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Private variants are read only through short-lived signed URLs; no shared cache may keep them. */
const PRIVATE = 'private, max-age=300';

/** Where variants of private accounts' media live: never readable without a signature (docs/adr/0013). */
export const PRIVATE_PREFIX = 'private/';

const isNotFound = (error: unknown) =>
  error instanceof S3ServiceException &&
  (error.name === 'NotFound' || error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404);
const isPreconditionFailed = (error: unknown) =>
  error instanceof S3ServiceException &&
  (error.name === 'PreconditionFailed' || error.$metadata.httpStatusCode === 412);

/** An object as HEAD describes it; `etag` names this version of its bytes. */
export interface ObjectHead {
  size: number;
  contentType: string | undefined;
  etag: string;
  /** When this version was written (the store's clock, whole seconds). */
  lastModified: Date | undefined;
}

/** The only code that touches the object store. */
export class ObjectsRepository {
  constructor(
    private readonly storage: ObjectStorage,
    private readonly uploadUrl: string | undefined,
    /** Signs GET URLs for clients: a client of the endpoint they reach (S3_PRESIGN_ENDPOINT). */
    private readonly presigner: S3Client = storage.client,
  ) {}

  /**
   * A POST policy that S3 enforces: this exact key, this exact Content-Type, 1..maxBytes bytes, until the
   * expiration. (A pre-signed PUT could not bound the size.)
   */
  async presignUpload(
    key: string,
    contentType: string,
    maxBytes: number,
    ttlSeconds: number,
  ): Promise<PresignedUpload> {
    const { url, fields } = await createPresignedPost(this.storage.client, {
      Bucket: this.storage.bucket,
      Key: key,
      Conditions: [
        ['content-length-range', 1, maxBytes],
        ['eq', '$Content-Type', contentType],
      ],
      Fields: { 'Content-Type': contentType },
      Expires: ttlSeconds,
    });
    const policy = JSON.parse(Buffer.from(fields.Policy!, 'base64').toString('utf8')) as { expiration: string };
    return { url: this.uploadUrl ?? url, fields, expiresAt: new Date(policy.expiration) };
  }

  async head(key: string): Promise<ObjectHead | null> {
    try {
      const res = await this.storage.client.send(new HeadObjectCommand({ Bucket: this.storage.bucket, Key: key }));
      if (!res.ETag) throw new Error(`The object store returned no ETag for ${key}`);
      return {
        size: res.ContentLength ?? 0,
        contentType: res.ContentType,
        etag: res.ETag,
        lastModified: res.LastModified,
      };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** The first `length` bytes of version `etag`, enough for magic-byte detection; null if the key now holds other bytes. */
  async readStart(key: string, etag: string, length: number): Promise<Uint8Array | null> {
    const res = await this.getVersion(key, etag, `bytes=0-${length - 1}`);
    if (!res) return null;
    const bytes = await res.Body!.transformToByteArray();
    return bytes.subarray(0, length);
  }

  /** Writes version `etag` of the object to `path`; false (nothing written) if the key now holds other bytes. */
  async download(key: string, etag: string, path: string): Promise<boolean> {
    const res = await this.getVersion(key, etag);
    if (!res) return false;
    await pipeline(res.Body as Readable, createWriteStream(path));
    return true;
  }

  /**
   * A GET pinned to one version with If-Match. The response's ETag is checked as well: s3rver ignores If-Match
   * (and an object store that did not would make the pin silently void).
   */
  private async getVersion(key: string, etag: string, range?: string) {
    try {
      const res = await this.storage.client.send(
        new GetObjectCommand({
          Bucket: this.storage.bucket,
          Key: key,
          IfMatch: etag,
          ...(range ? { Range: range } : {}),
        }),
      );
      if (res.ETag === etag) return res;
      (res.Body as Readable | undefined)?.destroy();
      return null;
    } catch (error) {
      if (isPreconditionFailed(error)) return null;
      throw error;
    }
  }

  /**
   * Sent as one buffer: a stream body makes the SDK use aws-chunked encoding with checksum trailers, which
   * s3rver stores verbatim. Variants and HLS segments are a few MB at most.
   */
  async putFile(key: string, path: string, contentType: string): Promise<number> {
    const body = await readFile(path);
    await this.storage.client.send(
      new PutObjectCommand({
        Bucket: this.storage.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        CacheControl: key.startsWith(PRIVATE_PREFIX) ? PRIVATE : IMMUTABLE,
      }),
    );
    return body.length;
  }

  async delete(key: string): Promise<void> {
    await this.storage.client.send(new DeleteObjectCommand({ Bucket: this.storage.bucket, Key: key }));
  }

  /** Copies every object under `from` to the same key under `to` (metadata kept, Cache-Control made private). */
  async copyPrefix(from: string, to: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.storage.client.send(
        new ListObjectsV2Command({ Bucket: this.storage.bucket, Prefix: from, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        const head = await this.storage.client.send(
          new HeadObjectCommand({ Bucket: this.storage.bucket, Key: object.Key }),
        );
        await this.storage.client.send(
          new CopyObjectCommand({
            Bucket: this.storage.bucket,
            Key: `${to}${object.Key.slice(from.length)}`,
            CopySource: `${this.storage.bucket}/${object.Key.split('/').map(encodeURIComponent).join('/')}`,
            MetadataDirective: 'REPLACE',
            ContentType: head.ContentType,
            CacheControl: PRIVATE,
          }),
        );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deletePrefix(prefix: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.storage.client.send(
        new ListObjectsV2Command({ Bucket: this.storage.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length > 0) {
        await this.storage.client.send(
          new DeleteObjectsCommand({ Bucket: this.storage.bucket, Delete: { Objects: keys } }),
        );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  publicUrl(key: string): string {
    return `${this.storage.publicUrl.replace(/\/$/, '')}/${key}`;
  }

  /**
   * A pre-signed GET for one object, valid between `ttlSeconds` and twice that. It is signed at the start of the
   * current `ttlSeconds` window, so every request in a window gets the same URL and the browser cache works; the
   * response says `private, max-age=<ttl>` so no shared cache keeps it.
   */
  async signedUrl(key: string, ttlSeconds: number, nowMs = Date.now()): Promise<string> {
    const windowMs = ttlSeconds * 1000;
    const signingDate = new Date(Math.floor(nowMs / windowMs) * windowMs);
    return getSignedUrl(
      this.presigner,
      new GetObjectCommand({
        Bucket: this.storage.bucket,
        Key: key,
        ResponseCacheControl: `private, max-age=${ttlSeconds}`,
      }),
      { expiresIn: 2 * ttlSeconds, signingDate },
    );
  }
}
