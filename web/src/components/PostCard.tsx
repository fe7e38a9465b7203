import { useMutation, useSubscription } from '@apollo/client/react';
import { useState } from 'react';
import type { PostFieldsFragment } from '../generated/gql/graphql.ts';
import { LIKE, POST_LIKED, UNLIKE } from '../operations.ts';
import { profileHref } from '../route.ts';
import { Comments } from './Comments.tsx';
import { MediaView } from './MediaView.tsx';

export function PostCard({ post }: { post: PostFieldsFragment }) {
  const [like] = useMutation(LIKE);
  const [unlike] = useMutation(UNLIKE);
  const [showComments, setShowComments] = useState(false);
  const [lastLiker, setLastLiker] = useState<string | null>(null);
  // Likes by others arrive live; the cache merges `post { id likeCount }` into this post.
  useSubscription(POST_LIKED, {
    variables: { postId: post.id },
    onData: ({ data }) => setLastLiker(data.data?.postLiked.user.username ?? null),
  });

  const toggleLike = () => {
    const liked = !post.viewerHasLiked;
    const optimisticResponse = {
      __typename: 'Post' as const,
      id: post.id,
      viewerHasLiked: liked,
      likeCount: Math.max(0, post.likeCount + (liked ? 1 : -1)),
    };
    if (liked)
      void like({
        variables: { postId: post.id },
        optimisticResponse: { __typename: 'Mutation', likePost: optimisticResponse },
      });
    else
      void unlike({
        variables: { postId: post.id },
        optimisticResponse: { __typename: 'Mutation', unlikePost: optimisticResponse },
      });
  };

  return (
    <article className="post" data-testid="post" data-post-id={post.id}>
      <header>
        {post.author.avatar?.url && <img className="avatar" src={post.author.avatar.url} alt="" />}
        <a href={profileHref(post.author.username)}>
          <strong>{post.author.displayName ?? post.author.username}</strong> @{post.author.username}
        </a>
        <time dateTime={post.createdAt}>{new Date(post.createdAt).toLocaleString()}</time>
      </header>
      {post.media.map((media) => (
        <MediaView key={media.id} media={media} />
      ))}
      {post.text && <p className="text">{post.text}</p>}
      <footer>
        <button className={post.viewerHasLiked ? 'liked' : ''} onClick={toggleLike} data-testid="like">
          {post.viewerHasLiked ? '♥ Liked' : '♡ Like'}
        </button>
        <span data-testid="like-count">
          {post.likeCount} {post.likeCount === 1 ? 'like' : 'likes'}
        </span>
        {lastLiker && <span className="live">liked by @{lastLiker} just now</span>}
        <button className="link" onClick={() => setShowComments(!showComments)}>
          {post.commentCount} {post.commentCount === 1 ? 'comment' : 'comments'}
        </button>
      </footer>
      {showComments && <Comments postId={post.id} />}
    </article>
  );
}
