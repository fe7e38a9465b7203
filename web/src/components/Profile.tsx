import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { errorMessage } from '../errors.ts';
import { BLOCK, FOLLOW, MUTE, PROFILE, UNFOLLOW } from '../operations.ts';
import { getSession } from '../session.ts';

/** A square tile's picture: the 640-px WebP of an image, the poster of a video. */
function tileImage(media: { kind: string; variants: { name: string; url: string }[] } | undefined): string | undefined {
  return media?.variants.find((v) => v.name === (media.kind === 'VIDEO' ? 'poster' : 'small-webp'))?.url;
}

export function Profile({ username }: { username: string }) {
  const { data, loading, error, fetchMore } = useQuery(PROFILE, { variables: { username } });
  const refetch = { refetchQueries: ['Profile', 'Feed'], awaitRefetchQueries: true };
  const [follow] = useMutation(FOLLOW, refetch);
  const [unfollow] = useMutation(UNFOLLOW, refetch);
  const [block] = useMutation(BLOCK, refetch);
  const [mute] = useMutation(MUTE, refetch);
  const [message, setMessage] = useState<string | null>(null);
  const run = (action: () => Promise<unknown>, done: string) => () =>
    action().then(
      () => setMessage(done),
      (err: unknown) => setMessage(errorMessage(err)),
    );

  if (loading && !data) return <p className="empty">Loading…</p>;
  if (error) return <p className="error">{errorMessage(error)}</p>;
  const user = data?.user;
  if (!user) return <p className="empty">No such user.</p>;
  const self = getSession()?.user.id === user.id;
  const variables = { variables: { userId: user.id } };
  return (
    <section className="profile">
      <header>
        {user.avatar?.url && <img className="avatar large" src={user.avatar.url} alt="" />}
        <div>
          <h2>
            {user.displayName ?? user.username} <small>@{user.username}</small>{' '}
            {user.isPrivate && <span title="Private account">🔒</span>}
          </h2>
          {user.bio && <p>{user.bio}</p>}
          <p>
            <strong data-testid="follower-count">{user.followerCount}</strong> followers ·{' '}
            <strong>{user.followingCount}</strong> following
            {user.followsViewer && ' · follows you'}
          </p>
          {self ? (
            <a href="#/requests">Follow requests</a>
          ) : (
            <div className="actions">
              {user.viewerFollowStatus === 'NONE' ? (
                <button onClick={run(() => follow(variables), user.isPrivate ? 'Request sent' : 'Following')}>
                  Follow
                </button>
              ) : (
                <button onClick={run(() => unfollow(variables), 'Unfollowed')}>
                  {user.viewerFollowStatus === 'REQUESTED' ? 'Requested (withdraw)' : 'Following (unfollow)'}
                </button>
              )}
              <button onClick={run(() => mute(variables), `Muted @${user.username}`)}>Mute</button>
              <button onClick={run(() => block(variables), `Blocked @${user.username}`)}>Block</button>
            </div>
          )}
          {message && <p className="note">{message}</p>}
        </div>
      </header>
      {user.posts.edges.length === 0 && (
        <p className="empty">{user.isPrivate && !self ? 'This account is private.' : 'No posts yet.'}</p>
      )}
      <div className="grid">
        {user.posts.edges.map(({ node }) =>
          node ? (
            <figure key={node.id} className="tile" data-testid="profile-post">
              {tileImage(node.media[0]) ? (
                <img src={tileImage(node.media[0])} alt="" loading="lazy" />
              ) : (
                <p>{node.text}</p>
              )}
              <figcaption>
                ♥ {node.likeCount} · {node.commentCount} {node.commentCount === 1 ? 'comment' : 'comments'}
              </figcaption>
            </figure>
          ) : null,
        )}
      </div>
      {user.posts.pageInfo.hasNextPage && (
        <button
          className="link"
          onClick={() => void fetchMore({ variables: { after: user.posts.pageInfo.endCursor } })}
        >
          More posts
        </button>
      )}
    </section>
  );
}
