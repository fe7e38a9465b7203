/**
 * What the gateway caches of `_entities` fetches, per subgraph and type, and under which tags an entry is
 * invalidated (docs/adr/0017-entity-cache.md). A type not listed here is never cached.
 *
 * - `public`: one entry per (subgraph, type, key, selection) for every viewer; only for fields that read the same
 *   for everyone who can reach the entity at all (a profile, counters, a READY media).
 * - `viewer`: one entry per viewer: the posts subgraph decides per viewer whether a post or comment is visible
 *   (private authors, blocks) and what `viewerHasLiked` says, so its entities are never shared.
 *
 * TTLs bound memory, not staleness: every change is invalidated by the mutation the gateway forwards or by its
 * domain event, and while the gateway's event listener is cut off from the broker the cache is bypassed and then
 * flushed (EntityCache.eventGap). They are minutes so that a viewer coming back to their feed finds it.
 *
 * A selection naming one of `viewerFields` (fields resolved with the caller's identity) turns a public type into
 * a per-viewer one; `clientHints` adds the forwarded client hints to the key (media URLs depend on them).
 */
export type CacheScope = 'public' | 'viewer';

export interface TypePolicy {
  scope: CacheScope;
  ttlMs: number;
  viewerFields?: readonly string[];
  clientHints?: boolean;
}

export const ENTITY_CACHE_POLICIES: Readonly<Record<string, Readonly<Record<string, TypePolicy>>>> = {
  posts: {
    Post: { scope: 'viewer', ttlMs: 300_000 },
    Comment: { scope: 'viewer', ttlMs: 300_000 },
  },
  users: {
    User: { scope: 'public', ttlMs: 300_000 },
  },
  'social-graph': {
    User: {
      scope: 'public',
      ttlMs: 300_000,
      viewerFields: ['followers', 'following', 'viewerFollowStatus', 'followsViewer'],
    },
  },
  media: {
    // Signed URLs of private media live MEDIA_PRIVATE_URL_TTL_SECONDS (300 s by default): well past this. An entry
    // must expire long before the URLs it holds, so media keep a TTL of their own, shorter than the others'.
    Media: { scope: 'public', ttlMs: 60_000, viewerFields: ['failureReason'], clientHints: true },
  },
};

/** Tags: every entry carries all of these, and bumping any one of them drops it. */
export const Tags = {
  /** Everything, after the shared tier was unreachable (its bumps may have been lost). */
  epoch: 'epoch',
  /** Every entry of one subgraph: an account turned private or public changes what its posts and media show. */
  subgraph: (name: string) => `s:${name}`,
  /** Every entry of one type: a deleted post hides its comments, whose post the key does not name. */
  type: (typename: string) => `t:${typename}`,
  entity: (typename: string, id: string) => `e:${typename}:${id}`,
  /** Every per-viewer entry of one viewer: a follow, an unfollow or a block changes what they may see. */
  viewer: (userId: string) => `v:${userId}`,
} as const;

/** The client hints media URLs depend on (a subset of the forwarded headers, subgraph-data-source.ts). */
export const CLIENT_HINT_HEADERS = ['save-data', 'dpr', 'viewport-width'] as const;
