import { badUserInput, forbidden, isUuid, notFound, pageSize, toConnection } from '@insta/infra';
import { ParentGone, type CommentPageKey, type CommentRecord, type CommentsRepository } from './comments.repository.ts';
import type { Loaders } from './loaders.ts';
import { checkTextLength, MAX_MENTIONS, mentionedUsernames } from './text.ts';
import { decodeTimeCursor, encodeTimeCursor } from './cursors.ts';
import type { UsersClient } from './users.client.ts';

export interface AddCommentInput {
  postId: string;
  text: string;
  parentId?: string | null;
}

export class CommentsService {
  constructor(
    private readonly comments: CommentsRepository,
    private readonly users: UsersClient,
  ) {}

  /** Top-level comments of a post (`scope: 'post'`) or replies to a comment, oldest first. */
  async page(
    loaders: Loaders,
    scope: CommentPageKey['scope'],
    id: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ) {
    const size = pageSize(first);
    const list = `comments:${scope}:${id}`;
    const rows = await loaders.commentPage.load({ scope, id, after: decodeTimeCursor(list, after), limit: size + 1 });
    return toConnection(
      rows,
      size,
      (c) => encodeTimeCursor(list, c),
      (c) => c,
    );
  }

  /** The comment if it exists, is not deleted and its post is visible to the viewer. */
  async visible(loaders: Loaders, id: string): Promise<CommentRecord | null> {
    const comment = isUuid(id) ? await loaders.commentById.load(id) : null;
    return comment && (await loaders.visiblePost(comment.postId)) ? comment : null;
  }

  async add(loaders: Loaders, authorId: string, input: AddCommentInput): Promise<CommentRecord> {
    const text = input.text.trim();
    if (!text) throw badUserInput('A comment needs text', 'input.text');
    checkTextLength(text, 'input.text');
    const names = mentionedUsernames(text);
    if (names.length > MAX_MENTIONS) throw badUserInput(`At most ${MAX_MENTIONS} mentions`, 'input.text');
    const post = isUuid(input.postId) ? await loaders.visiblePost(input.postId) : null;
    if (!post) throw notFound('Post not found');
    let parent: CommentRecord | null = null;
    if (input.parentId !== undefined && input.parentId !== null) {
      parent = isUuid(input.parentId) ? await loaders.commentById.load(input.parentId) : null;
      if (!parent || parent.postId !== post.id) throw badUserInput('No such comment on this post', 'input.parentId');
    }
    const mentionedUserIds = await this.users.idsOf(names);
    let comment: CommentRecord | null;
    try {
      comment = await this.comments.add({
        postId: post.id,
        postAuthorId: post.authorId,
        authorId,
        parent,
        text,
        mentionedUserIds,
      });
    } catch (error) {
      if (error instanceof ParentGone) throw badUserInput('No such comment on this post', 'input.parentId');
      throw error;
    }
    if (!comment) throw notFound('Post not found');
    loaders.commentById.prime(comment.id, comment);
    loaders.postById.clear(post.id);
    return comment;
  }

  /** By the comment's author or the post's author. */
  async delete(loaders: Loaders, viewerId: string, id: string): Promise<boolean> {
    const comment = isUuid(id) ? await this.comments.findForWrite(id) : null;
    if (!comment) throw notFound('Comment not found');
    const { post, ...record } = comment;
    if (viewerId !== comment.authorId && viewerId !== post.authorId) {
      // Under a post the viewer cannot see, the comment does not exist for them.
      if (!(await loaders.visiblePost(comment.postId))) throw notFound('Comment not found');
      throw forbidden('Only the comment author or the post author can delete this comment');
    }
    if (!(await this.comments.softDelete(record, post.authorId, viewerId))) throw notFound('Comment not found');
    return true;
  }
}
