import { useQuery, useSubscription } from '@apollo/client/react';
import { useEffect, useRef, useState } from 'react';
import { errorMessage } from '../errors.ts';
import { FEED, FEED_UPDATED } from '../operations.ts';
import { PostCard } from './PostCard.tsx';

const PAGE = 10;

/** The home feed: infinite scroll (relayStylePagination merges the pages) and a "N new posts" banner. */
export function Feed() {
  const { data, loading, error, fetchMore, refetch } = useQuery(FEED, { variables: { first: PAGE } });
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const sentinel = useRef<HTMLDivElement>(null);
  const edges = data?.feed.edges ?? [];
  const shown = new Set(edges.map((edge) => edge.node?.id));
  const pageInfo = data?.feed.pageInfo;

  useSubscription(FEED_UPDATED, {
    onData: ({ data: event }) => {
      const id = event.data?.feedUpdated.id;
      if (id) setFresh((ids) => new Set(ids).add(id));
    },
  });
  const waiting = [...fresh].filter((id) => !shown.has(id)).length;

  useEffect(() => {
    const element = sentinel.current;
    if (!element || !pageInfo?.hasNextPage) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !loading) {
        void fetchMore({ variables: { after: pageInfo.endCursor } });
      }
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [pageInfo?.hasNextPage, pageInfo?.endCursor, loading, fetchMore]);

  return (
    <section className="feed">
      {waiting > 0 && (
        <button
          className="banner"
          data-testid="new-posts"
          onClick={async () => {
            await refetch({ first: PAGE, after: null });
            setFresh(new Set());
            window.scrollTo({ top: 0 });
          }}
        >
          {waiting === 1 ? '1 new post' : `${waiting} new posts`}
        </button>
      )}
      {error && <p className="error">{errorMessage(error)}</p>}
      {!loading && edges.length === 0 && <p className="empty">Your feed is empty: follow someone, or post a photo.</p>}
      {/* A feed edge's node is null when its post was deleted or hidden since the page was prepared. */}
      {edges.map((edge) => (edge.node ? <PostCard key={edge.node.id} post={edge.node} /> : null))}
      <div ref={sentinel} className="sentinel" />
      {loading && <p className="empty">Loading…</p>}
      {pageInfo && !pageInfo.hasNextPage && edges.length > 0 && <p className="empty">You are all caught up.</p>}
    </section>
  );
}
