import { outboxRow, Prisma, type PrismaClient } from '@insta/db';
import {
  PostsSubjects,
  type MentionCreatedEvent,
  type PostCreatedEvent,
  type PostDeletedEvent,
  type PostEditedEvent,
  type PostLikeEvent,
} from '@insta/events';

export interface PostRecord {
  id: string;
  authorId: string;
  text: string | null;
  createdAt: Date;
  editedAt: Date | null;
  likeCount: number;
  commentCount: number;
}

/** Keyset position in a newest-first post list. */
export interface PostKey {
  createdAt: Date;
  id: string;
}

const columns = {
  id: true,
  authorId: true,
  text: true,
  createdAt: true,
  editedAt: true,
  likeCount: true,
  commentCount: true,
} as const;

/** `columns` in raw SQL over `posts.posts p`, aliased to PostRecord's field names. */
const postColumnsSql = Prisma.sql`p.id, p.author_id AS "authorId", p.text, p.created_at AS "createdAt",
  p.edited_at AS "editedAt", p.like_count AS "likeCount", p.comment_count AS "commentCount"`;

/** Thrown inside a transaction to roll it back when the post was deleted under it. */
class PostGone extends Error {}

export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('idempotency key already used');
  }
}

type Tx = Prisma.TransactionClient;

const mentionRows = (postId: string, authorId: string, userIds: string[], now: Date) =>
  userIds
    .filter((id) => id !== authorId)
    .map((mentionedUserId) => {
      const event: MentionCreatedEvent = {
        postId,
        commentId: null,
        mentionedUserId,
        authorId,
        createdAt: now.toISOString(),
      };
      return outboxRow(PostsSubjects.mentionCreated, event, now);
    });

/**
 * The only code that touches posts.posts and the tables hanging off it (media, edits, hashtags, mentions, likes).
 * Every change writes its events to posts.outbox in the same transaction, then calls `afterCommit`.
 * Soft-deleted posts are invisible to readers.
 */
export class PostsRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly afterCommit: () => void,
  ) {}

  findByIds(ids: readonly string[]): Promise<PostRecord[]> {
    return this.db.post.findMany({ where: { id: { in: [...ids] }, deletedAt: null }, select: columns });
  }

  /** Including a deleted post: a retried create must not make a second one. */
  findByIdempotencyKey(authorId: string, idempotencyKey: string) {
    return this.db.post.findUnique({
      where: { authorId_idempotencyKey: { authorId, idempotencyKey } },
      select: { ...columns, deletedAt: true },
    });
  }

  /** A live post with what edits need: its author and whether it has media. */
  findForWrite(id: string) {
    return this.db.post.findFirst({
      where: { id, deletedAt: null },
      select: { ...columns, _count: { select: { media: true } } },
    });
  }

  /**
   * Newest first, `limit` rows after `after`. The row comparison lets the (author_id, created_at desc, id desc)
   * index start at the cursor, so a deep page costs what the first does.
   */
  byAuthor(authorId: string, after: PostKey | null, limit: number): Promise<PostRecord[]> {
    const keyset = after
      ? Prisma.sql`AND (p.created_at, p.id) < (${after.createdAt}, ${after.id}::uuid)`
      : Prisma.empty;
    return this.db.$queryRaw<PostRecord[]>`
      SELECT ${postColumnsSql} FROM posts.posts p
      WHERE p.author_id = ${authorId}::uuid AND p.deleted_at IS NULL ${keyset}
      ORDER BY p.created_at DESC, p.id DESC
      LIMIT ${limit}`;
  }

  /** Newest first, served by the (tag, created_at desc, post_id desc) index. */
  byHashtag(tag: string, after: PostKey | null, limit: number): Promise<PostRecord[]> {
    const keyset = after
      ? Prisma.sql`AND (h.created_at, h.post_id) < (${after.createdAt}, ${after.id}::uuid)`
      : Prisma.empty;
    return this.db.$queryRaw<PostRecord[]>`
      SELECT ${postColumnsSql}
      FROM posts.post_hashtags h JOIN posts.posts p ON p.id = h.post_id
      WHERE h.tag = ${tag} AND p.deleted_at IS NULL ${keyset}
      ORDER BY h.created_at DESC, h.post_id DESC
      LIMIT ${limit}`;
  }

  mediaOf(postIds: readonly string[]): Promise<{ postId: string; mediaId: string }[]> {
    return this.db.postMedia.findMany({
      where: { postId: { in: [...postIds] } },
      orderBy: [{ postId: 'asc' }, { position: 'asc' }],
      select: { postId: true, mediaId: true },
    });
  }

  mentionsOf(postIds: readonly string[]): Promise<{ postId: string; userId: string }[]> {
    return this.db.postMention.findMany({
      where: { postId: { in: [...postIds] } },
      orderBy: [{ postId: 'asc' }, { position: 'asc' }],
      select: { postId: true, userId: true },
    });
  }

  async likedBy(userId: string, postIds: readonly string[]): Promise<string[]> {
    const rows = await this.db.like.findMany({
      where: { userId, postId: { in: [...postIds] } },
      select: { postId: true },
    });
    return rows.map((r) => r.postId);
  }

  /** Who among these users liked this post (one index scan for all of them). */
  async likersAmong(postId: string, userIds: readonly string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.$queryRaw<{ userId: string }[]>`
      SELECT user_id::text AS "userId" FROM posts.likes
      WHERE post_id = ${postId}::uuid AND user_id = ANY(${[...userIds]}::uuid[])`;
    return rows.map((r) => r.userId);
  }

  async create(data: {
    authorId: string;
    text: string | null;
    mediaIds: string[];
    hashtags: string[];
    mentionedUserIds: string[];
    idempotencyKey: string | null;
  }): Promise<PostRecord> {
    try {
      const post = await this.db.$transaction(async (tx) => {
        const created = await tx.post.create({
          data: {
            authorId: data.authorId,
            text: data.text,
            idempotencyKey: data.idempotencyKey,
            media: { createMany: { data: data.mediaIds.map((mediaId, position) => ({ mediaId, position })) } },
            mentions: { createMany: { data: data.mentionedUserIds.map((userId, position) => ({ userId, position })) } },
          },
          select: columns,
        });
        await tx.postHashtag.createMany({
          data: data.hashtags.map((tag) => ({ tag, postId: created.id, createdAt: created.createdAt })),
        });
        const event: PostCreatedEvent = {
          postId: created.id,
          authorId: created.authorId,
          createdAt: created.createdAt.toISOString(),
          hashtags: data.hashtags,
          mentionedUserIds: data.mentionedUserIds,
          mediaIds: data.mediaIds,
        };
        await tx.postsOutbox.createMany({
          data: [
            outboxRow(PostsSubjects.postCreated, event, created.createdAt),
            ...mentionRows(created.id, created.authorId, data.mentionedUserIds, created.createdAt),
          ],
        });
        return created;
      });
      this.afterCommit();
      return post;
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002')
        throw new IdempotencyKeyTaken();
      throw error;
    }
  }

  /**
   * Replaces the text (keeping the old one in post_edits), the hashtags and the mentions; users mentioned for the
   * first time get a mention event. Null when the post was deleted meanwhile.
   */
  async edit(
    postId: string,
    data: { text: string | null; hashtags: string[]; mentionedUserIds: string[] },
  ): Promise<PostRecord | null> {
    const now = new Date();
    const post = await this.db.$transaction(async (tx) => {
      const [previous] = await tx.$queryRaw<{ text: string | null }[]>`
        SELECT text FROM posts.posts WHERE id = ${postId}::uuid AND deleted_at IS NULL FOR UPDATE`;
      if (!previous) return null;
      const edited = await tx.post.update({
        where: { id: postId },
        data: { text: data.text, editedAt: now, edits: { create: { text: previous.text, replacedAt: now } } },
        select: columns,
      });
      await this.replaceHashtags(tx, edited, data.hashtags);
      const before = await tx.postMention.findMany({ where: { postId }, select: { userId: true } });
      await tx.postMention.deleteMany({ where: { postId } });
      await tx.postMention.createMany({
        data: data.mentionedUserIds.map((userId, position) => ({ postId, userId, position })),
      });
      const known = new Set(before.map((m) => m.userId));
      const event: PostEditedEvent = {
        postId,
        authorId: edited.authorId,
        createdAt: edited.createdAt.toISOString(),
        editedAt: now.toISOString(),
        hashtags: data.hashtags,
        mentionedUserIds: data.mentionedUserIds,
      };
      await tx.postsOutbox.createMany({
        data: [
          outboxRow(PostsSubjects.postEdited, event, now),
          ...mentionRows(
            postId,
            edited.authorId,
            data.mentionedUserIds.filter((id) => !known.has(id)),
            now,
          ),
        ],
      });
      return edited;
    });
    this.afterCommit();
    return post;
  }

  /** Soft delete; false when it was already deleted. Its hashtag rows go, so tag lists skip it cheaply. */
  async softDelete(postId: string): Promise<boolean> {
    const now = new Date();
    const deleted = await this.db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ authorId: string; createdAt: Date }[]>`
        UPDATE posts.posts SET deleted_at = ${now} WHERE id = ${postId}::uuid AND deleted_at IS NULL
        RETURNING author_id AS "authorId", created_at AS "createdAt"`;
      const [post] = rows;
      if (!post) return false;
      await tx.postHashtag.deleteMany({ where: { postId } });
      const event: PostDeletedEvent = {
        postId,
        authorId: post.authorId,
        createdAt: post.createdAt.toISOString(),
        deletedAt: now.toISOString(),
      };
      await tx.postsOutbox.create({ data: outboxRow(PostsSubjects.postDeleted, event, now) });
      return true;
    });
    if (deleted) this.afterCommit();
    return deleted;
  }

  /** Adds the like row if missing; the counter and the event follow only when a row was added. */
  like(postId: string, userId: string): Promise<{ post: PostRecord; changed: boolean } | null> {
    return this.changeLike(postId, userId, 'like');
  }

  /** Removes the like row if present; the counter and the event follow only when a row was removed. */
  unlike(postId: string, userId: string): Promise<{ post: PostRecord; changed: boolean } | null> {
    return this.changeLike(postId, userId, 'unlike');
  }

  private async changeLike(postId: string, userId: string, change: 'like' | 'unlike') {
    const now = new Date();
    const result = await this.db
      .$transaction(async (tx) => {
        const { count } =
          change === 'like'
            ? await tx.like.createMany({ data: [{ postId, userId, createdAt: now }], skipDuplicates: true })
            : await tx.like.deleteMany({ where: { postId, userId } });
        if (count === 0) {
          const post = await tx.post.findFirst({ where: { id: postId, deletedAt: null }, select: columns });
          return post && { post, changed: false };
        }
        // A delete that committed after the visibility check wins: the like must not land on a deleted post.
        const updated = await tx.post.updateMany({
          where: { id: postId, deletedAt: null },
          data: { likeCount: change === 'like' ? { increment: 1 } : { decrement: 1 } },
        });
        if (updated.count === 0) throw new PostGone();
        const post = await tx.post.findUniqueOrThrow({ where: { id: postId }, select: columns });
        const event: PostLikeEvent = {
          postId,
          postAuthorId: post.authorId,
          userId,
          likeCount: post.likeCount,
          at: now.toISOString(),
        };
        const subject = change === 'like' ? PostsSubjects.postLiked : PostsSubjects.postUnliked;
        await tx.postsOutbox.create({ data: outboxRow(subject, event, now) });
        return { post, changed: true };
      })
      .catch((error: unknown) => {
        if (error instanceof PostGone) return null;
        throw error;
      });
    if (result?.changed) this.afterCommit();
    return result;
  }

  private async replaceHashtags(tx: Tx, post: PostRecord, hashtags: string[]) {
    await tx.postHashtag.deleteMany({ where: { postId: post.id } });
    await tx.postHashtag.createMany({
      data: hashtags.map((tag) => ({ tag, postId: post.id, createdAt: post.createdAt })),
    });
  }
}
