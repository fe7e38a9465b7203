import { badUserInput, isUuid } from '@insta/infra';
import type { SocialGraphClient } from '@insta/social-graph/client';
import type { PostsRepository } from './posts.repository.ts';

/** Viewers per `postAudience` call: social-graph's `audience` answers as many in one call. */
export const MAX_AUDIENCE = 5000;

export interface PostAudience {
  postId: string;
  public: boolean;
  hiddenFrom: string[];
  likedBy: string[];
}

/**
 * Many viewers and one post: the same visibility rule as `post(id:)` (loaders.ts: the author, or no block either
 * way and a public author or an approved follower) and the same likes as `viewerHasLiked`, for every viewer of a
 * subscription event at once (one social-graph call, one query). Answered sparsely: who may not see it.
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
    const [audience, likers] = await Promise.all([
      this.socialGraph.audience(post.authorId, asked),
      this.posts.likersAmong(post.id, asked),
    ]);
    const sees = (id: string) =>
      id === post.authorId || (!audience.blocked.has(id) && (!audience.targetIsPrivate || audience.following.has(id)));
    return {
      postId: post.id,
      // Anonymous viewers: no block and no follow can exist, so the author's privacy alone decides.
      public: !audience.targetIsPrivate,
      hiddenFrom: viewerIds.filter((id) => !isUuid(id) || !sees(id)),
      likedBy: likers.filter(sees),
    };
  }
}
