import {
  badUserInput,
  conflict,
  forbidden,
  isUuid,
  notFound,
  pageSize,
  toConnection,
  type Connection,
} from '@insta/infra';
import type { Loaders } from './loaders.ts';
import type { MediaClient } from '@insta/media/client';
import { IdempotencyKeyTaken, type PostKey, type PostRecord, type PostsRepository } from './posts.repository.ts';
import {
  checkTextLength,
  hashtagsOf,
  MAX_HASHTAGS,
  MAX_MENTIONS,
  mentionedUsernames,
  normalizeHashtag,
} from './text.ts';
import { decodeTimeCursor, encodeTimeCursor } from './cursors.ts';
import type { UsersClient } from './users.client.ts';

/** A User entity reference: users and social-graph resolve its fields. */
export interface UserRef {
  id: string;
}

export const MAX_MEDIA = 10;
const MAX_IDEMPOTENCY_KEY_LENGTH = 100;
/** A tag list skips posts the viewer may not see; it scans at most this many batches for one page. */
const MAX_SCAN_ROUNDS = 5;

const toKey = (post: PostRecord): PostKey => ({ createdAt: post.createdAt, id: post.id });

const emptyConnection = <T>(): Connection<T> => ({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });

/** Trimmed text, null when empty; too long is BAD_USER_INPUT on `field`. */
function cleanText(text: string | null | undefined, field: string): string | null {
  const trimmed = text?.trim() ?? '';
  checkTextLength(trimmed, field);
  return trimmed || null;
}

export interface CreatePostInput {
  text?: string | null;
  mediaIds?: string[] | null;
  idempotencyKey?: string | null;
}

export class PostsService {
  constructor(
    private readonly posts: PostsRepository,
    private readonly users: UsersClient,
    private readonly media: MediaClient,
  ) {}

  async create(authorId: string, input: CreatePostInput): Promise<PostRecord> {
    const text = cleanText(input.text, 'input.text');
    const mediaIds = input.mediaIds ?? [];
    if (!text && mediaIds.length === 0) throw badUserInput('A post needs text or media', 'input.text');
    if (mediaIds.length > MAX_MEDIA) throw badUserInput(`A post has at most ${MAX_MEDIA} media`, 'input.mediaIds');
    if (new Set(mediaIds).size !== mediaIds.length) throw badUserInput('A media item appears twice', 'input.mediaIds');
    const key = input.idempotencyKey ?? null;
    if (key !== null && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      throw badUserInput(`idempotencyKey must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, 'input.idempotencyKey');
    }
    const hashtags = this.hashtags(text);
    if (key !== null) {
      const existing = await this.byIdempotencyKey(authorId, key);
      if (existing) return existing;
    }
    const [mentionedUserIds] = await Promise.all([this.mentions(text), this.checkMedia(authorId, mediaIds)]);
    try {
      return await this.posts.create({ authorId, text, mediaIds, hashtags, mentionedUserIds, idempotencyKey: key });
    } catch (error) {
      // Two requests with one key raced: the loser answers with the winner's post.
      if (!(error instanceof IdempotencyKeyTaken) || key === null) throw error;
      const existing = await this.byIdempotencyKey(authorId, key);
      if (!existing) throw error;
      return existing;
    }
  }

  async edit(loaders: Loaders, viewerId: string, id: string, input: { text?: string | null }): Promise<PostRecord> {
    const post = await this.ownPost(loaders, viewerId, id);
    const text = cleanText(input.text, 'input.text');
    if (!text && post._count.media === 0) throw badUserInput('A post without media needs text', 'input.text');
    const hashtags = this.hashtags(text);
    const mentionedUserIds = await this.mentions(text);
    const edited = await this.posts.edit(id, { text, hashtags, mentionedUserIds });
    if (!edited) throw notFound('Post not found');
    return edited;
  }

  async delete(loaders: Loaders, viewerId: string, id: string): Promise<boolean> {
    await this.ownPost(loaders, viewerId, id);
    if (!(await this.posts.softDelete(id))) throw notFound('Post not found');
    return true;
  }

  async like(loaders: Loaders, userId: string, postId: string, liked: boolean): Promise<PostRecord> {
    if (!isUuid(postId) || !(await loaders.visiblePost(postId))) throw notFound('Post not found');
    const result = liked ? await this.posts.like(postId, userId) : await this.posts.unlike(postId, userId);
    if (!result) throw notFound('Post not found');
    loaders.postById.clear(postId).prime(postId, result.post);
    loaders.viewerHasLiked.clear(postId).prime(postId, liked);
    return result.post;
  }

  async byAuthor(
    loaders: Loaders,
    authorId: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ) {
    const size = pageSize(first);
    const list = `posts:author:${authorId}`;
    const key = decodeTimeCursor(list, after);
    if (!(await loaders.canSeeAuthor(authorId))) return emptyConnection<PostRecord>();
    const rows = await this.posts.byAuthor(authorId, key, size + 1);
    return toConnection(
      rows,
      size,
      (p) => encodeTimeCursor(list, toKey(p)),
      (p) => p,
    );
  }

  /** Newest first, without the posts the viewer may not see. */
  async byHashtag(
    loaders: Loaders,
    rawTag: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ) {
    const tag = normalizeHashtag(rawTag.trim());
    if (!tag) throw badUserInput('Not a hashtag', 'tag');
    const size = pageSize(first);
    const list = `posts:tag:${tag}`;
    let scanned = decodeTimeCursor(list, after);
    const nodes: PostRecord[] = [];
    for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
      const rows = await this.posts.byHashtag(tag, scanned, size + 1);
      const visible = await Promise.all(rows.map((p) => loaders.canSeeAuthor(p.authorId)));
      for (const [i, post] of rows.entries()) {
        if (visible[i] && nodes.length === size) return this.tagPage(list, nodes, true);
        if (visible[i]) nodes.push(post);
        scanned = toKey(post);
      }
      if (rows.length <= size) return this.tagPage(list, nodes, false);
    }
    // Too many hidden posts in a row: hand back a short page that resumes after the last row looked at.
    return this.tagPage(list, nodes, true, scanned);
  }

  private tagPage(
    list: string,
    nodes: PostRecord[],
    hasNextPage: boolean,
    resumeAt?: PostKey | null,
  ): Connection<PostRecord> {
    const last = nodes.at(-1);
    const end = resumeAt ?? (last ? toKey(last) : null);
    return {
      edges: nodes.map((node) => ({ cursor: encodeTimeCursor(list, toKey(node)), node })),
      pageInfo: { hasNextPage, endCursor: end ? encodeTimeCursor(list, end) : null },
    };
  }

  private async byIdempotencyKey(authorId: string, key: string): Promise<PostRecord | null> {
    const existing = await this.posts.findByIdempotencyKey(authorId, key);
    if (!existing) return null;
    const { deletedAt, ...post } = existing;
    if (deletedAt) throw conflict('This idempotencyKey belongs to a post that was deleted', 'input.idempotencyKey');
    return post;
  }

  /** FORBIDDEN only for a post the viewer can see: for any other, NOT_FOUND, so the answer does not tell it exists. */
  private async ownPost(loaders: Loaders, viewerId: string, id: string) {
    const post = isUuid(id) ? await this.posts.findForWrite(id) : null;
    if (!post) throw notFound('Post not found');
    if (post.authorId !== viewerId) {
      if (!(await loaders.visiblePost(id))) throw notFound('Post not found');
      throw forbidden('Only the author can change this post');
    }
    return post;
  }

  private hashtags(text: string | null): string[] {
    const tags = hashtagsOf(text);
    if (tags.length > MAX_HASHTAGS) throw badUserInput(`At most ${MAX_HASHTAGS} hashtags`, 'input.text');
    return tags;
  }

  /** Ids of the existing users @mentioned in the text, in order of first mention; unknown names are not mentions. */
  private async mentions(text: string | null): Promise<string[]> {
    const names = mentionedUsernames(text);
    if (names.length > MAX_MENTIONS) throw badUserInput(`At most ${MAX_MENTIONS} mentions`, 'input.text');
    return this.users.idsOf(names);
  }

  /** Each media item must be the author's own and READY; the first that is not names its index in the error. */
  private async checkMedia(authorId: string, mediaIds: string[]): Promise<void> {
    if (mediaIds.length === 0) return;
    const badId = mediaIds.findIndex((id) => !isUuid(id));
    if (badId >= 0) throw badUserInput('Not one of your media', `input.mediaIds.${badId}`);
    const summaries = new Map((await this.media.summaries(mediaIds)).map((m) => [m.id, m]));
    for (const [i, id] of mediaIds.entries()) {
      const media = summaries.get(id);
      if (!media || media.ownerId !== authorId) throw badUserInput('Not one of your media', `input.mediaIds.${i}`);
      if (media.status !== 'READY') throw badUserInput(`Media is ${media.status}, not READY`, `input.mediaIds.${i}`);
    }
  }
}
