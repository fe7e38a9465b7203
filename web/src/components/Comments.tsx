import { useMutation, useQuery, useSubscription } from '@apollo/client/react';
import type { ApolloCache } from '@apollo/client';
import { useState, type FormEvent } from 'react';
import { appendEdge } from '../cache.ts';
import { errorMessage } from '../errors.ts';
import type { CommentFieldsFragment } from '../generated/gql/graphql.ts';
import { ADD_COMMENT, COMMENT_ADDED, COMMENTS } from '../operations.ts';
import { getSession } from '../session.ts';

/**
 * Appends a comment to its post's comments (or its parent's replies) in the cache, once: the mutation's answer
 * and the commentAdded event bring the same comment.
 */
function appendComment(cache: ApolloCache, postId: string, comment: CommentFieldsFragment) {
  const owner = comment.parent
    ? cache.identify({ __typename: 'Comment', id: comment.parent.id })
    : cache.identify({ __typename: 'Post', id: postId });
  const field = comment.parent ? 'replies' : 'comments';
  cache.modify({
    id: owner,
    fields: {
      [field]: (existing, { toReference }) => appendEdge(existing, 'CommentEdge', toReference(comment)),
    },
  });
}

export function Comments({ postId }: { postId: string }) {
  const { data, error, fetchMore } = useQuery(COMMENTS, { variables: { postId } });
  const [text, setText] = useState('');
  const [replyTo, setReplyTo] = useState<{ id: string; author: { username: string } } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [addComment] = useMutation(ADD_COMMENT);
  useSubscription(COMMENT_ADDED, {
    variables: { postId },
    onData: ({ client, data: event }) => {
      const comment = event.data?.commentAdded;
      if (comment) appendComment(client.cache, postId, comment);
    },
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const session = getSession();
    if (!text.trim() || !session) return;
    const parent = replyTo ? { __typename: 'Comment' as const, id: replyTo.id } : null;
    const commentCount = (data?.post?.commentCount ?? 0) + 1;
    setText('');
    setReplyTo(null);
    setFailure(null);
    try {
      await addComment({
        variables: { input: { postId, text, parentId: parent?.id ?? null } },
        optimisticResponse: {
          __typename: 'Mutation',
          addComment: {
            __typename: 'Comment',
            id: `optimistic-${Date.now()}`,
            text,
            createdAt: new Date().toISOString(),
            author: { __typename: 'User', id: session.user.id, username: session.user.username },
            parent,
            post: { __typename: 'Post', id: postId, commentCount },
          },
        },
        update: (cache, { data: result }) => {
          if (result) appendComment(cache, postId, result.addComment);
        },
      });
    } catch (err) {
      setFailure(errorMessage(err));
    }
  };

  const post = data?.post;
  if (error) return <p className="error">{errorMessage(error)}</p>;
  if (!post) return null;
  return (
    <div className="comments">
      {post.comments.edges.map(({ node }) => (
        <div key={node.id} className="comment">
          <p>
            <strong>@{node.author.username}</strong> {node.text}{' '}
            <button className="link" onClick={() => setReplyTo(node)}>
              Reply
            </button>
          </p>
          {node.replies.edges.map(({ node: reply }) => (
            <p key={reply.id} className="reply">
              <strong>@{reply.author.username}</strong> {reply.text}
            </p>
          ))}
        </div>
      ))}
      {post.comments.pageInfo.hasNextPage && (
        <button
          className="link"
          onClick={() => void fetchMore({ variables: { after: post.comments.pageInfo.endCursor } })}
        >
          More comments
        </button>
      )}
      <form onSubmit={submit} className="comment-form">
        <input
          placeholder={replyTo ? `Reply to @${replyTo.author.username}` : 'Add a comment'}
          aria-label="Comment"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit">Send</button>
      </form>
      {failure && <p className="error">{failure}</p>}
    </div>
  );
}
