import { outboxRow, Prisma, type PrismaClient } from '@insta/db';
import {
  PostsSubjects,
  type CommentAddedEvent,
  type CommentDeletedEvent,
  type MentionCreatedEvent,
} from '@insta/events';

export interface CommentRecord {
  id: string;
  postId: string;
  authorId: string;
  parentId: string | null;
  text: string;
  createdAt: Date;
}

/** Keyset position in an oldest-first comment list. */
export interface CommentKey {
  createdAt: Date;
  id: string;
}

/** One page request: the top-level comments of a post, or the replies to a comment. */
export interface CommentPageKey {
  scope: 'post' | 'replies';
  id: string;
  after: CommentKey | null;
  limit: number;
}

const columns = { id: true, postId: true, authorId: true, parentId: true, text: true, createdAt: true } as const;

/**
 * The only code that touches posts.comments; it also keeps posts.comment_count exact in the same transaction and
 * writes the comment events to posts.outbox. Deleted comments are invisible to readers.
 */
export class CommentsRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly afterCommit: () => void,
  ) {}

  findByIds(ids: readonly string[]): Promise<CommentRecord[]> {
    return this.db.comment.findMany({ where: { id: { in: [...ids] }, deletedAt: null }, select: columns });
  }

  /** With the author of the post, for permission checks. */
  findForWrite(id: string) {
    return this.db.comment.findFirst({
      where: { id, deletedAt: null },
      select: { ...columns, post: { select: { authorId: true } } },
    });
  }

  /**
   * Pages of several lists of the same shape (scope, cursor, size) in one query: a LATERAL join runs the keyset
   * scan once per list, so a page of posts with their comments costs one query whatever the number of posts.
   */
  async pages(scope: CommentPageKey['scope'], ids: readonly string[], after: CommentKey | null, limit: number) {
    const list =
      scope === 'post' ? Prisma.sql`c.post_id = s.id AND c.parent_id IS NULL` : Prisma.sql`c.parent_id = s.id`;
    const keyset = after
      ? Prisma.sql`AND (c.created_at, c.id) > (${after.createdAt}, ${after.id}::uuid)`
      : Prisma.empty;
    const rows = await this.db.$queryRaw<(CommentRecord & { listId: string })[]>`
      SELECT s.id AS "listId", c.id, c.post_id AS "postId", c.author_id AS "authorId", c.parent_id AS "parentId",
             c.text, c.created_at AS "createdAt"
      FROM unnest(${[...ids]}::uuid[]) AS s(id)
      CROSS JOIN LATERAL (
        SELECT * FROM posts.comments c
        WHERE ${list} AND c.deleted_at IS NULL ${keyset}
        ORDER BY c.created_at, c.id
        LIMIT ${limit}
      ) c`;
    const byList = new Map<string, CommentRecord[]>(ids.map((id) => [id, []]));
    for (const { listId, ...comment } of rows) byList.get(listId)!.push(comment);
    return byList;
  }

  /** Adds a comment and counts it on the post; null when the post or the parent is gone. */
  async add(data: {
    postId: string;
    postAuthorId: string;
    authorId: string;
    parent: { id: string; authorId: string } | null;
    text: string;
    mentionedUserIds: string[];
  }): Promise<CommentRecord | null> {
    const comment = await this.db.$transaction(async (tx) => {
      const counted = await tx.post.updateMany({
        where: { id: data.postId, deletedAt: null },
        data: { commentCount: { increment: 1 } },
      });
      if (counted.count === 0) return null;
      if (data.parent) {
        const parentLive = await tx.comment.count({ where: { id: data.parent.id, deletedAt: null } });
        if (parentLive === 0) throw new ParentGone();
      }
      const created = await tx.comment.create({
        data: { postId: data.postId, authorId: data.authorId, parentId: data.parent?.id ?? null, text: data.text },
        select: columns,
      });
      const { commentCount } = await tx.post.findUniqueOrThrow({
        where: { id: data.postId },
        select: { commentCount: true },
      });
      const at = created.createdAt;
      const event: CommentAddedEvent = {
        commentId: created.id,
        postId: created.postId,
        postAuthorId: data.postAuthorId,
        authorId: created.authorId,
        parentId: created.parentId,
        parentAuthorId: data.parent?.authorId ?? null,
        commentCount,
        createdAt: at.toISOString(),
      };
      const mentions = data.mentionedUserIds
        .filter((id) => id !== data.authorId)
        .map((mentionedUserId) => {
          const mention: MentionCreatedEvent = {
            postId: created.postId,
            commentId: created.id,
            mentionedUserId,
            authorId: created.authorId,
            createdAt: at.toISOString(),
          };
          return outboxRow(PostsSubjects.mentionCreated, mention, at);
        });
      await tx.postsOutbox.createMany({ data: [outboxRow(PostsSubjects.commentAdded, event, at), ...mentions] });
      return created;
    });
    if (comment) this.afterCommit();
    return comment;
  }

  /**
   * Soft-deletes the comment and every live reply under it, and takes them off the post's count. False when the
   * comment was already deleted.
   */
  async softDelete(comment: CommentRecord, postAuthorId: string, deletedBy: string): Promise<boolean> {
    const now = new Date();
    const deleted = await this.db.$transaction(async (tx) => {
      // `add` takes the post row first too: a reply being added to this subtree either commits before this lock
      // (and the recursive query below sees it) or waits and then finds its parent deleted.
      await tx.$queryRaw`SELECT 1 FROM posts.posts WHERE id = ${comment.postId}::uuid FOR UPDATE`;
      const rows = await tx.$queryRaw<{ id: string }[]>`
        WITH RECURSIVE subtree AS (
          SELECT id FROM posts.comments WHERE id = ${comment.id}::uuid AND deleted_at IS NULL
          UNION ALL
          SELECT c.id FROM posts.comments c JOIN subtree s ON c.parent_id = s.id WHERE c.deleted_at IS NULL
        )
        UPDATE posts.comments SET deleted_at = ${now} WHERE id IN (SELECT id FROM subtree) AND deleted_at IS NULL
        RETURNING id`;
      if (rows.length === 0) return false;
      const post = await tx.post.update({
        where: { id: comment.postId },
        data: { commentCount: { decrement: rows.length } },
        select: { commentCount: true },
      });
      const event: CommentDeletedEvent = {
        commentId: comment.id,
        postId: comment.postId,
        postAuthorId,
        authorId: comment.authorId,
        parentId: comment.parentId,
        deletedBy,
        deletedCommentIds: rows.map((r) => r.id),
        commentCount: post.commentCount,
        deletedAt: now.toISOString(),
      };
      await tx.postsOutbox.create({ data: outboxRow(PostsSubjects.commentDeleted, event, now) });
      return true;
    });
    if (deleted) this.afterCommit();
    return deleted;
  }
}

/** The comment replied to was deleted between the check and the insert. */
export class ParentGone extends Error {
  constructor() {
    super('parent comment deleted');
  }
}
