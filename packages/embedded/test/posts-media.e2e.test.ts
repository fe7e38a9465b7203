import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningSystem } from '../src/system.ts';
import { apiClient } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

/** Runs ffmpeg with `args` writing `file` in `dir`, and returns the file. */
function ffmpeg(dir: string, file: string, args: string[]): Promise<Buffer> {
  const out = join(dir, file);
  return new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, out], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  }).then(() => readFile(out));
}

describe('posts with media through the gateway, on the real Postgres, Redis and NATS', () => {
  let dataDir: string;
  let real: RealSystem;
  let system: RunningSystem;
  let jpeg: Buffer;
  let mp4: Buffer;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'insta-posts-e2e-'));
    [jpeg, mp4] = await Promise.all([
      ffmpeg(dataDir, 'photo.jpg', ['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1']),
      ffmpeg(dataDir, 'clip.mp4', [
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240:rate=10:duration=1',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        '-movflags',
        '+faststart',
      ]),
    ]);
    real = await startRealSystem('posts-media-e2e');
    system = real.system;
  });
  afterAll(async () => {
    await real?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const { gql, signUp } = apiClient(() => system.gatewayUrl);

  async function uploadReady(token: string, file: Buffer, contentType: string): Promise<string> {
    const { requestUpload: ticket } = await gql(
      'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } url fields { name value } } }',
      { i: { contentType, size: file.length } },
      token,
    );
    const form = new FormData();
    for (const { name, value } of ticket.fields as { name: string; value: string }[]) form.append(name, value);
    form.append('file', new Blob([file], { type: contentType }), 'upload');
    const upload = await fetch(ticket.url, { method: 'POST', body: form });
    await upload.arrayBuffer();
    expect(upload.status).toBeLessThan(300);
    await gql('mutation($id: ID!) { completeUpload(mediaId: $id) { id } }', { id: ticket.media.id }, token);
    await vi.waitFor(
      async () =>
        expect(
          (await gql('query($id: ID!) { media(id: $id) { status } }', { id: ticket.media.id }, token)).media.status,
        ).toBe('READY'),
      { timeout: 60_000, interval: 200 },
    );
    return ticket.media.id;
  }

  it('should create a post with an uploaded photo and video, take likes, comments and replies, and read it all back', async () => {
    const ana = await signUp('e2e_posts_ana');
    const bob = await signUp('e2e_posts_bob');
    const [photo, video] = await Promise.all([
      uploadReady(ana.accessToken, jpeg, 'image/jpeg'),
      uploadReady(ana.accessToken, mp4, 'video/mp4'),
    ]);

    const { createPost: created } = await gql(
      'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
      { i: { text: 'First light #e2e with @e2e_posts_bob', mediaIds: [photo, video], idempotencyKey: 'e2e-1' } },
      ana.accessToken,
    );
    const like = 'mutation($id: ID!) { likePost(postId: $id) { likeCount viewerHasLiked } }';
    expect((await gql(like, { id: created.id }, bob.accessToken)).likePost).toEqual({
      likeCount: 1,
      viewerHasLiked: true,
    });
    expect((await gql(like, { id: created.id }, ana.accessToken)).likePost).toEqual({
      likeCount: 2,
      viewerHasLiked: true,
    });
    const unlike = 'mutation($id: ID!) { unlikePost(postId: $id) { likeCount viewerHasLiked } }';
    expect((await gql(unlike, { id: created.id }, ana.accessToken)).unlikePost).toEqual({
      likeCount: 1,
      viewerHasLiked: false,
    });
    const addComment = 'mutation($i: AddCommentInput!) { addComment(input: $i) { id } }';
    const comment = (await gql(addComment, { i: { postId: created.id, text: 'Gorgeous!' } }, bob.accessToken))
      .addComment;
    const reply = (
      await gql(
        addComment,
        { i: { postId: created.id, text: 'Thanks @e2e_posts_bob', parentId: comment.id } },
        ana.accessToken,
      )
    ).addComment;

    const { post } = await gql(
      `query($id: ID!) { post(id: $id) {
        id text hashtags author { username } mentions { username }
        media { id kind status url variants { name url contentType } }
        likeCount commentCount viewerHasLiked
        comments { edges { node { id text author { username } replies { edges { node { id text author { username } parent { id } } } } } } }
      } }`,
      { id: created.id },
      bob.accessToken,
    );
    expect(post).toMatchObject({
      id: created.id,
      text: 'First light #e2e with @e2e_posts_bob',
      hashtags: ['e2e'],
      author: { username: 'e2e_posts_ana' },
      mentions: [{ username: 'e2e_posts_bob' }],
      likeCount: 1,
      commentCount: 2,
      viewerHasLiked: true,
      comments: {
        edges: [
          {
            node: {
              id: comment.id,
              text: 'Gorgeous!',
              author: { username: 'e2e_posts_bob' },
              replies: {
                edges: [
                  {
                    node: {
                      id: reply.id,
                      text: 'Thanks @e2e_posts_bob',
                      author: { username: 'e2e_posts_ana' },
                      parent: { id: comment.id },
                    },
                  },
                ],
              },
            },
          },
        ],
      },
    });
    expect(post.media.map((m: { id: string; kind: string; status: string }) => [m.id, m.kind, m.status])).toEqual([
      [photo, 'IMAGE', 'READY'],
      [video, 'VIDEO', 'READY'],
    ]);
    for (const media of post.media as { url: string; variants: { url: string }[] }[]) {
      expect(media.url).toMatch(/^http/);
      expect(media.variants.length).toBeGreaterThan(0);
      const download = await fetch(media.variants[0]!.url);
      await download.arrayBuffer();
      expect(download.status).toBe(200);
    }

    const again = await gql(
      'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
      { i: { text: 'First light #e2e with @e2e_posts_bob', mediaIds: [photo, video], idempotencyKey: 'e2e-1' } },
      ana.accessToken,
    );
    expect(again.createPost.id).toBe(created.id);
    const byTag = await gql('{ postsByHashtag(tag: "E2E") { edges { node { id author { username } } } } }', {});
    expect(byTag.postsByHashtag.edges).toEqual([{ node: { id: created.id, author: { username: 'e2e_posts_ana' } } }]);
  });
});
