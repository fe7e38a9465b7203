import { badUserInput, isUuid } from '@insta/infra';
import type { SocialGraphClient } from '@insta/social-graph/client';
import { canSeeWith } from './loaders.ts';
import type { PostsRepository } from './posts.repository.ts';

/** Viewers per `postAudience` call: social-graph's `audience` answers as many in one call. */
export const MAX_AUDIENCE = 5000;

export interface PostAudience {
  postId: string;
  public: boolean;
  visibleTo: string[];
  likedBy: string[];
}

/**
 * Many viewers and one post: the same visibility rule as `post(id:)` (loaders.ts) and the same likes as
 * `viewerHasLiked`, for every viewer of a subscription event at once (one social-graph call, one query).
 */
export class AudienceService {
  constructor(
    private readonly posts: PostsRepository,
    private readonly socialGraph: SocialGraphClient,
  ) {}

  async of(postId: string, viewerIds: readonly string[]): Promise<PostAudience | null> {
    if (viewerIds.length > MAX_AUDIENCE) throw badUserInput(`At most ${MAX_AUDIENCE} viewers`, 'viewerIds');
    if (!isUuid(postId)) return null;
    const [post] = await this.posts.findByIds([postId]);
    if (!post) return null;
    const asked = viewerIds.filter(isUuid);
    // Both at once; the likes of viewers who may not see the post are dropped below.
    const [relations, likers] = await Promise.all([
      asked.length
        ? this.socialGraph.audience(post.authorId, asked)
        : this.socialGraph.relations(null, [post.authorId]),
      this.posts.likersAmong(post.id, asked),
    ]);
    const visibleTo = asked.filter((id, i) => id === post.authorId || canSeeWith(relations[i] ?? null));
    const visible = new Set(visibleTo);
    // Anonymous viewers: no block and no follow can exist, so the author's privacy alone decides.
    const targetIsPrivate = relations[0]?.targetIsPrivate ?? true;
    return {
      postId: post.id,
      public: !targetIsPrivate,
      visibleTo,
      likedBy: likers.filter((id) => visible.has(id)),
    };
  }
}
