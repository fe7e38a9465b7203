import DataLoader from 'dataloader';
import { keyedLoader } from '@insta/infra';
import type { CommentPageKey, CommentRecord, CommentsRepository } from './comments.repository.ts';
import type { PostRecord, PostsRepository } from './posts.repository.ts';
import { ANONYMOUS_VIEWER_ID, type Relation, type SocialGraphClient } from '@insta/social-graph/client';

export interface LoaderDeps {
  posts: PostsRepository;
  comments: CommentsRepository;
  socialGraph: SocialGraphClient;
}

/** Visible iff the viewer is the author, or no block either way and (public author or approved follower). */
const canSeeWith = (relation: Relation | null) =>
  !!relation && !relation.blocked && (!relation.targetIsPrivate || relation.following);

function groupBy<R, K extends keyof R>(keys: readonly string[], rows: R[], key: K, value: (row: R) => string) {
  const groups = new Map<string, string[]>(keys.map((k) => [k, []]));
  for (const row of rows) groups.get(row[key] as string)?.push(value(row));
  return keys.map((k) => groups.get(k)!);
}

/** Per-request loaders: every per-post or per-author lookup of a page is one query (or one internal call). */
export function createLoaders({ posts, comments, socialGraph }: LoaderDeps, viewerId: string | null) {
  const relationTo = keyedLoader(
    (authorIds: readonly string[]) => socialGraph.relations(viewerId ?? ANONYMOUS_VIEWER_ID, authorIds),
    (r) => r.targetId,
  );
  const canSeeAuthor = async (authorId: string) => authorId === viewerId || canSeeWith(await relationTo.load(authorId));
  const postById = keyedLoader(
    (ids: readonly string[]) => posts.findByIds(ids),
    (p) => p.id,
  );

  return {
    canSeeAuthor,
    /** The post if it exists, is not deleted and the viewer may see it. */
    async visiblePost(id: string): Promise<PostRecord | null> {
      const post = await postById.load(id);
      return post && (await canSeeAuthor(post.authorId)) ? post : null;
    },
    postById,
    mediaIds: new DataLoader<string, string[]>(async (postIds) =>
      groupBy(postIds, await posts.mediaOf(postIds), 'postId', (r) => r.mediaId),
    ),
    mentionIds: new DataLoader<string, string[]>(async (postIds) =>
      groupBy(postIds, await posts.mentionsOf(postIds), 'postId', (r) => r.userId),
    ),
    viewerHasLiked: new DataLoader<string, boolean>(async (postIds) => {
      if (!viewerId) return postIds.map(() => false);
      const liked = new Set(await posts.likedBy(viewerId, postIds));
      return postIds.map((id) => liked.has(id));
    }),
    commentById: keyedLoader(
      (ids: readonly string[]) => comments.findByIds(ids),
      (c) => c.id,
    ),
    /** Lists requested with the same scope, cursor and size are fetched together. */
    commentPage: new DataLoader<CommentPageKey, CommentRecord[], string>(
      async (keys) => {
        const groups = new Map<string, CommentPageKey[]>();
        for (const key of keys) {
          const shape = JSON.stringify([key.scope, key.after, key.limit]);
          groups.set(shape, [...(groups.get(shape) ?? []), key]);
        }
        const results = new Map<CommentPageKey, CommentRecord[]>();
        await Promise.all(
          [...groups.values()].map(async (group) => {
            const { scope, after, limit } = group[0]!;
            const pages = await comments.pages(scope, [...new Set(group.map((k) => k.id))], after, limit);
            for (const key of group) results.set(key, pages.get(key.id) ?? []);
          }),
        );
        return keys.map((k) => results.get(k)!);
      },
      { cacheKeyFn: (key) => JSON.stringify(key) },
    ),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
