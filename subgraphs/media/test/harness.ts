import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { randomUUID } from 'node:crypto';
import { vi } from 'vitest';
import { UsersSubjects, type UserCreatedEvent } from '@insta/events';
import { createObjectStorage, startEmbeddedObjectStore, type Identity, type RunningServer } from '@insta/infra';
import { postSignedGraphQL, TEST_SECRETS } from '@insta/infra/testing';
import { loadSocialGraphConfig, startSocialGraphSubgraph } from '@insta/social-graph';
import { startSubgraphHarness } from '@insta/test-support';
import { loadMediaConfig, startMediaSubgraph } from '../src/server.ts';

/**
 * The media subgraph and the real social-graph it asks about owners, over a fresh database, the real NATS and
 * Redis, and the embedded object store over a temporary directory. Accounts are made by publishing the users
 * subgraph's event; follows and blocks go through social-graph.
 */
export async function startMediaHarness(env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'media-test-'));
  const s3 = await startEmbeddedObjectStore({ directory: dir, port: 0, bucket: 'media-test' });
  let social: RunningServer | undefined;
  const h = await startSubgraphHarness({
    name: 'media',
    loadConfig: loadMediaConfig,
    start: async (deps) => {
      const started = await startSocialGraphSubgraph({
        ...deps,
        config: loadSocialGraphConfig({ ...TEST_SECRETS, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
        // Users is not running: social-graph knows accounts from the users events the tests publish, nothing else.
        accounts: { accountStates: async () => [] },
      });
      social = started;
      try {
        const media = await startMediaSubgraph({
          ...deps,
          config: { ...deps.config, SOCIAL_GRAPH_URL: started.url },
          storage: createObjectStorage(deps.config),
        });
        return {
          ...media,
          async stop() {
            await media.stop();
            await started.stop();
          },
        };
      } catch (error) {
        await started.stop();
        throw error;
      }
    },
    env: { ...s3.env, ...env },
  });
  const socialUrl = social!.url;
  return {
    ...h,
    s3Env: s3.env,
    /** A user social-graph knows (public unless `isPrivate`), for media that others look at. */
    async account(options: { isPrivate?: boolean } = {}): Promise<Identity> {
      const userId = randomUUID();
      const eventId = randomUUID();
      const event: UserCreatedEvent = {
        userId,
        username: `u_${userId.slice(0, 8)}`,
        isPrivate: options.isPrivate ?? false,
        createdAt: new Date().toISOString(),
      };
      await h.bus.publish(
        UsersSubjects.userCreated,
        { ...event, eventId, occurredAt: event.createdAt },
        { msgId: eventId },
      );
      await vi.waitFor(
        async () => {
          if (!(await h.db.socialAccount.findUnique({ where: { userId } }))) throw new Error('not replicated yet');
        },
        { timeout: 15_000, interval: 25 },
      );
      return { userId, sessionId: randomUUID() };
    },
    /** A social-graph mutation (follow, unfollow, block, approveFollowRequest ...) as `user` on `target`. */
    async social(user: Identity, mutation: string, target: Identity) {
      const res = await postSignedGraphQL(
        socialUrl,
        { audience: 'social-graph', principal: user },
        `mutation($id: ID!) { ${mutation}(userId: $id) }`,
        { id: target.userId },
      );
      if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    },
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
