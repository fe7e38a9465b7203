import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect } from 'react';
import { errorMessage } from '../errors.ts';
import type { NotificationFieldsFragment } from '../generated/gql/graphql.ts';
import { MARK_READ, NOTIFICATIONS } from '../operations.ts';

const VERBS: Record<NotificationFieldsFragment['type'], string> = {
  LIKE: 'liked your post',
  COMMENT: 'commented on your post',
  REPLY: 'replied to your comment',
  FOLLOW: 'followed you',
  FOLLOW_REQUEST: 'asked to follow you',
  MENTION: 'mentioned you',
};

/** "ana and 5 others liked your post": the server groups; the client only words it. */
export function notificationText(n: NotificationFieldsFragment): string {
  const [first] = n.actors;
  const who = first ? `@${first.username}` : 'Someone';
  const others = n.actorCount - 1;
  const rest = others <= 0 ? '' : others === 1 ? ' and 1 other' : ` and ${others} others`;
  return `${who}${rest} ${VERBS[n.type]}`;
}

export function Notifications() {
  const { data, error, fetchMore } = useQuery(NOTIFICATIONS, { fetchPolicy: 'cache-and-network' });
  const [markRead] = useMutation(MARK_READ, { refetchQueries: ['Me'] });
  const unread = data?.unreadNotificationCount ?? 0;
  useEffect(() => {
    if (unread > 0) void markRead();
  }, [unread, markRead]);
  if (error) return <p className="error">{errorMessage(error)}</p>;
  const connection = data?.notifications;
  return (
    <section className="notifications">
      <h2>Notifications</h2>
      {connection?.edges.length === 0 && <p className="empty">Nothing yet.</p>}
      <ul>
        {connection?.edges.map(({ node }) => (
          <li key={node.id} className={node.read ? '' : 'unread'} data-testid="notification">
            {notificationText(node)}
            {node.comment && <q>{node.comment.text}</q>}
            <time dateTime={node.updatedAt}>{new Date(node.updatedAt).toLocaleString()}</time>
          </li>
        ))}
      </ul>
      {connection?.pageInfo.hasNextPage && (
        <button
          className="link"
          onClick={() => void fetchMore({ variables: { after: connection.pageInfo.endCursor } })}
        >
          Older
        </button>
      )}
    </section>
  );
}
