import { useMutation, useQuery } from '@apollo/client/react';
import { errorMessage } from '../errors.ts';
import { APPROVE, FOLLOW_REQUESTS, REJECT } from '../operations.ts';
import { profileHref } from '../route.ts';

export function FollowRequests() {
  const { data, error } = useQuery(FOLLOW_REQUESTS, { fetchPolicy: 'cache-and-network' });
  const options = { refetchQueries: ['FollowRequests'] };
  const [approve] = useMutation(APPROVE, options);
  const [reject] = useMutation(REJECT, options);
  if (error) return <p className="error">{errorMessage(error)}</p>;
  const edges = data?.followRequests.edges ?? [];
  return (
    <section>
      <h2>Follow requests</h2>
      {edges.length === 0 && <p className="empty">No pending requests.</p>}
      <ul>
        {edges.map(({ node }) => (
          <li key={node.id}>
            <a href={profileHref(node.username)}>@{node.username}</a>{' '}
            <button onClick={() => void approve({ variables: { userId: node.id } })}>Approve</button>{' '}
            <button onClick={() => void reject({ variables: { userId: node.id } })}>Reject</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
