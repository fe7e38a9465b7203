import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createObjectStorage, startEmbeddedObjectStore, type Identity } from '@insta/infra';
import { postSignedGraphQL } from '@insta/infra/testing';
import { startSubgraphHarness } from '@insta/test-support';
import { loadMediaConfig, startMediaSubgraph } from '../src/server.ts';

/** The media subgraph over a fresh database, the real NATS and Redis, and s3rver over a temporary directory. */
export async function startMediaHarness(env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'media-test-'));
  const s3 = await startEmbeddedObjectStore({ directory: dir, port: 0, bucket: 'media-test' });
  const h = await startSubgraphHarness({
    name: 'media',
    loadConfig: loadMediaConfig,
    start: (deps) => startMediaSubgraph({ ...deps, storage: createObjectStorage(deps.config) }),
    env: { ...s3.env, ...env },
  });
  return {
    ...h,
    s3Env: s3.env,
    /** A request with extra headers, as the gateway forwards them (Save-Data, DPR, Viewport-Width). */
    requestWithHeaders: <T = Record<string, any>>(
      query: string,
      variables: Record<string, unknown>,
      identity: Identity | null,
      headers: Record<string, string>,
    ) => postSignedGraphQL<T>(h.server.url, { audience: 'media', principal: identity }, query, variables, headers),
    async stop() {
      await h.stop();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
export type MediaHarness = Awaited<ReturnType<typeof startMediaHarness>>;

export interface Ticket {
  media: { id: string; status: string; kind: string };
  url: string;
  fields: { name: string; value: string }[];
  expiresAt: string;
}

/** The browser's part: a multipart/form-data POST of the ticket's fields, then the file. */
export async function postUpload(ticket: Ticket, body: Uint8Array, contentType: string): Promise<number> {
  const form = new FormData();
  for (const { name, value } of ticket.fields) form.append(name, value);
  form.append('file', new Blob([body], { type: contentType }), 'upload');
  const res = await fetch(ticket.url, { method: 'POST', body: form });
  await res.arrayBuffer();
  return res.status;
}

/** A JPEG taken "sideways": stored 800×600 with EXIF orientation 6 (display 600×800) and camera metadata. */
export function sidewaysJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .composite([
      {
        input: { create: { width: 200, height: 200, channels: 3, background: { r: 10, g: 200, b: 30 } } },
        left: 0,
        top: 0,
      },
    ])
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'TestCam', Model: 'GPS-1' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1' },
    })
    .jpeg()
    .toBuffer();
}

/** A 1.5 s 1280×720 H.264/AAC MP4 made by ffmpeg. */
export async function shortMp4(): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'media-video-'));
  const out = join(dir, 'clip.mp4');
  try {
    await new Promise<void>((resolve, reject) => {
      const args = [
        '-hide_banner',
        '-loglevel',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=1280x720:rate=10:duration=1.5',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:duration=1.5',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-shortest',
        '-movflags',
        '+faststart',
        out,
      ];
      const child = spawn('ffmpeg', args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
    });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const REQUEST_UPLOAD = /* GraphQL */ `
  mutation ($input: RequestUploadInput!) {
    requestUpload(input: $input) {
      media {
        id
        status
        kind
        contentType
        altText
      }
      url
      fields {
        name
        value
      }
      expiresAt
    }
  }
`;
export const COMPLETE_UPLOAD = /* GraphQL */ `
  mutation ($id: ID!) {
    completeUpload(mediaId: $id) {
      id
      status
      kind
      contentType
    }
  }
`;
export const MEDIA = /* GraphQL */ `
  query ($id: ID!) {
    media(id: $id) {
      id
      kind
      status
      contentType
      width
      height
      durationMs
      blurhash
      altText
      url
      variants {
        name
        url
        width
        height
        contentType
      }
    }
  }
`;
