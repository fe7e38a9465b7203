import { Kind, parse, valueFromASTUntyped, type FieldNode } from 'graphql';
import {
  MediaSubjects,
  PostsSubjects,
  SocialSubjects,
  UsersSubjects,
  type BlockEvent,
  type CommentAddedEvent,
  type CommentDeletedEvent,
  type FollowEvent,
  type MediaProcessedEvent,
  type PostDeletedEvent,
  type UserUpdatedEvent,
} from '@insta/events';
import { Tags } from './entity-cache-policy.ts';

/** The subjects every gateway instance listens to (core NATS: each instance sees each event). */
export const INVALIDATION_SUBJECTS = ['posts.>', 'users.>', 'social.>', 'media.>'] as const;

/** An account's privacy flipped: what its posts, media and relations show changes for many viewers at once. */
const privacyChanged = () => [Tags.subgraph('posts'), Tags.subgraph('media'), Tags.subgraph('social-graph')];
/** A relation between two users changed: their per-viewer entries and both users' counters. */
const relationChanged = (a: string, b: string) => [
  Tags.viewer(a),
  Tags.viewer(b),
  Tags.entity('User', a),
  Tags.entity('User', b),
];

/** The tags a domain event invalidates (none for events that change nothing the cache holds). */
export function tagsForEvent(subject: string, data: unknown): string[] {
  const event = (data ?? {}) as Record<string, unknown>;
  switch (subject) {
    case PostsSubjects.postEdited:
    case PostsSubjects.postLiked:
    case PostsSubjects.postUnliked:
      return [Tags.entity('Post', String(event.postId))];
    case PostsSubjects.postDeleted:
      return [Tags.entity('Post', (event as unknown as PostDeletedEvent).postId), Tags.type('Comment')];
    case PostsSubjects.commentAdded: {
      const added = event as unknown as CommentAddedEvent;
      return [Tags.entity('Post', added.postId), ...(added.parentId ? [Tags.entity('Comment', added.parentId)] : [])];
    }
    case PostsSubjects.commentDeleted: {
      const deleted = event as unknown as CommentDeletedEvent;
      return [
        Tags.entity('Post', deleted.postId),
        ...[deleted.commentId, ...(deleted.deletedCommentIds ?? [])].map((id) => Tags.entity('Comment', id)),
        ...(deleted.parentId ? [Tags.entity('Comment', deleted.parentId)] : []),
      ];
    }
    case UsersSubjects.userUpdated: {
      const updated = event as unknown as UserUpdatedEvent;
      return [Tags.entity('User', updated.userId), ...(updated.changed.includes('isPrivate') ? privacyChanged() : [])];
    }
    case MediaSubjects.processed:
      return [Tags.entity('Media', (event as unknown as MediaProcessedEvent).mediaId)];
    case SocialSubjects.followCreated:
    case SocialSubjects.followDeleted:
    case SocialSubjects.followApproved:
    case SocialSubjects.followRequested:
    case SocialSubjects.followRejected:
    case SocialSubjects.followCancelled: {
      const follow = event as unknown as FollowEvent;
      return relationChanged(follow.followerId, follow.followeeId);
    }
    case SocialSubjects.accountPrivacyChanged:
      return privacyChanged();
    case SocialSubjects.blockCreated:
    case SocialSubjects.blockDeleted: {
      const block = event as unknown as BlockEvent;
      return relationChanged(block.blockerId, block.blockedId);
    }
    default:
      return [];
  }
}

type Args = Record<string, unknown>;

/**
 * What a mutation the gateway sends to a subgraph invalidates, from its fields and arguments: the gateway that
 * served it bumps these before it answers (read-your-writes for the actor); the events then reach the others.
 */
export function tagsForMutation(query: string, variables: Args | undefined, viewerId: string | null): string[] {
  let fields: FieldNode[];
  try {
    const document = parse(query, { noLocation: true });
    fields = document.definitions.flatMap((definition) =>
      definition.kind === Kind.OPERATION_DEFINITION && definition.operation === 'mutation'
        ? definition.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD)
        : [],
    );
  } catch {
    return [];
  }
  const tags: string[] = [];
  for (const field of fields) {
    const args: Args = {};
    for (const arg of field.arguments ?? []) args[arg.name.value] = valueFromASTUntyped(arg.value, variables);
    tags.push(...tagsForMutationField(field.name.value, args, viewerId));
  }
  return tags;
}

const str = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : null);

function tagsForMutationField(name: string, args: Args, viewerId: string | null): string[] {
  const input = (args.input ?? {}) as Args;
  switch (name) {
    case 'editPost':
    case 'deletePost': {
      const id = str(args.id);
      if (!id) return [];
      return name === 'deletePost' ? [Tags.entity('Post', id), Tags.type('Comment')] : [Tags.entity('Post', id)];
    }
    case 'likePost':
    case 'unlikePost': {
      const id = str(args.postId);
      return id ? [Tags.entity('Post', id)] : [];
    }
    case 'addComment': {
      const postId = str(input.postId);
      const parentId = str(input.parentId);
      return [
        ...(postId ? [Tags.entity('Post', postId)] : []),
        ...(parentId ? [Tags.entity('Comment', parentId)] : []),
      ];
    }
    case 'deleteComment': {
      // The post's commentCount follows with the event (the mutation does not name the post).
      const id = str(args.id);
      return id ? [Tags.entity('Comment', id)] : [];
    }
    case 'updateProfile':
      if (!viewerId) return [];
      return [Tags.entity('User', viewerId), ...('isPrivate' in input ? privacyChanged() : [])];
    case 'completeUpload': {
      const id = str(args.mediaId);
      return id ? [Tags.entity('Media', id)] : [];
    }
    case 'follow':
    case 'unfollow':
    case 'approveFollowRequest':
    case 'rejectFollowRequest':
    case 'block':
    case 'unblock': {
      const other = str(args.userId);
      return viewerId && other ? relationChanged(viewerId, other) : [];
    }
    default:
      return [];
  }
}
