import { DEFAULT_DUPLICATE_WINDOW_MS, DOMAIN_STREAM_LIMITS, type StreamDefinition } from './common.ts';

export const POSTS_STREAM: StreamDefinition = {
  name: 'POSTS',
  subjects: ['posts.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
  limits: DOMAIN_STREAM_LIMITS,
};

export const PostsSubjects = {
  postCreated: 'posts.post.created',
  /** The text changed; hashtags and mentions are those of the new text. */
  postEdited: 'posts.post.edited',
  /** Soft delete: feeds drop the post. */
  postDeleted: 'posts.post.deleted',
  /** A like row was added (a repeated like publishes nothing). */
  postLiked: 'posts.post.liked',
  /** A like row was removed (unliking a post not liked publishes nothing). */
  postUnliked: 'posts.post.unliked',
  commentAdded: 'posts.comment.added',
  /** A comment and its replies were deleted. */
  commentDeleted: 'posts.comment.deleted',
  /** A user was @mentioned in a new post, a post edit that added the mention, or a comment. */
  mentionCreated: 'posts.mention.created',
} as const;

export interface PostCreatedEvent {
  postId: string;
  authorId: string;
  createdAt: string;
  /** Normalized: lower-case, without `#`, in order of first use. */
  hashtags: string[];
  mentionedUserIds: string[];
  /** In display order. */
  mediaIds: string[];
}

export interface PostEditedEvent {
  postId: string;
  authorId: string;
  createdAt: string;
  editedAt: string;
  hashtags: string[];
  mentionedUserIds: string[];
}

export interface PostDeletedEvent {
  postId: string;
  authorId: string;
  createdAt: string;
  deletedAt: string;
}

/** Liked and unliked: `likeCount` is the count right after this change. */
export interface PostLikeEvent {
  postId: string;
  postAuthorId: string;
  /** Who liked or unliked. */
  userId: string;
  likeCount: number;
  at: string;
}
export type PostLikedEvent = PostLikeEvent;
export type PostUnlikedEvent = PostLikeEvent;

export interface CommentAddedEvent {
  commentId: string;
  postId: string;
  postAuthorId: string;
  authorId: string;
  /** The comment replied to, or null for a top-level comment. */
  parentId: string | null;
  parentAuthorId: string | null;
  commentCount: number;
  createdAt: string;
}

export interface CommentDeletedEvent {
  commentId: string;
  postId: string;
  postAuthorId: string;
  authorId: string;
  parentId: string | null;
  /** Who deleted it: the comment's author or the post's author. */
  deletedBy: string;
  /** This comment and its replies that were still live. */
  deletedCommentIds: string[];
  commentCount: number;
  deletedAt: string;
}

export interface MentionCreatedEvent {
  /** The post mentioning the user, or the post under which the mentioning comment is. */
  postId: string;
  /** Set when the mention is in a comment. */
  commentId: string | null;
  mentionedUserId: string;
  /** Who wrote the mention. */
  authorId: string;
  createdAt: string;
}
