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
    const [anonymous] = await this.socialGraph.relations(null, [post.authorId]);
    const asked = viewerIds.filter(isUuid);
    const relations = asked.length ? await this.socialGraph.audience(post.authorId, asked) : [];
    const visibleTo = asked.filter((id, i) => id === post.authorId || canSeeWith(relations[i] ?? null));
    return {
      postId: post.id,
      public: canSeeWith(anonymous ?? null),
      visibleTo,
      likedBy: await this.posts.likersAmong(post.id, visibleTo),
    };
  }
}
