/// <reference path="../types/s3rver.d.ts" />
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { generatedCredentials, startObjectStoreFront } from './object-store-front.ts';

/** Keys anyone may read from the embedded store: processed media of public accounts (see the media subgraph). */
export const PUBLIC_READ_PREFIXES = ['media/'] as const;

/**
 * s3rver (an S3-compatible server from npm) for embedded mode and tests, behind a front that enforces S3's rules
 * (object-store-front.ts): s3rver alone accepts any signature and ignores POST policies. s3rver listens on a
 * random loopback port that only the front talks to; the front listens on `host:port`, loopback only, and
 * checks signatures with credentials generated for this run (docs/adr/0013-data-path-security.md).
 * Browsers upload with the pre-signed POST and play HLS with fetch from another origin than the page's (the
 * gateway's /app): the front answers CORS for any origin (GET, HEAD, POST), as a public bucket behind a CDN would.
 */
export async function startEmbeddedObjectStore(options: {
  directory: string;
  port: number;
  bucket: string;
  host?: string;
}) {
  await mkdir(options.directory, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const region = 'us-east-1';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory: options.directory,
    silent: true,
    // No CORS rules here: only the front talks to s3rver, and the front answers CORS.
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  const upstream = (await server.run()) as AddressInfo;
  const credentials = generatedCredentials();
  let front: Awaited<ReturnType<typeof startObjectStoreFront>>;
  try {
    front = await startObjectStoreFront({
      host,
      port: options.port,
      upstream: { host: '127.0.0.1', port: upstream.port },
      bucket: options.bucket,
      region,
      ...credentials,
      publicReadPrefixes: PUBLIC_READ_PREFIXES,
      corsOrigins: '*',
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  const origin = host.includes(':') ? `[${host}]` : host;
  return {
    env: {
      S3_ENDPOINT: `http://${origin}:${front.port}`,
      S3_REGION: region,
      S3_BUCKET: options.bucket,
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    /** s3rver itself, for tests that look behind the front. */
    upstreamPort: upstream.port,
    stop: async () => {
      await front.close();
      await server.close();
    },
  };
}
