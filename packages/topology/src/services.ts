/** The processes of the deployed topology, as docker-compose.yml runs them. */
export const SERVICE_NAMES = ['users', 'posts', 'feed', 'social-graph', 'media', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
export type SubgraphServiceName = Exclude<ServiceName, 'gateway'>;

/** Each process's TypeScript entry point, relative to the repository root. */
export const ENTRY_POINTS: Record<ServiceName, string> = {
  gateway: 'gateway/src/index.ts',
  users: 'subgraphs/users/src/index.ts',
  posts: 'subgraphs/posts/src/index.ts',
  feed: 'subgraphs/feed/src/index.ts',
  'social-graph': 'subgraphs/social-graph/src/index.ts',
  media: 'subgraphs/media/src/index.ts',
};

/** The variable that tells other processes where a subgraph is. */
export const URL_VARIABLE: Record<SubgraphServiceName, string> = {
  users: 'USERS_URL',
  posts: 'POSTS_URL',
  feed: 'FEED_URL',
  'social-graph': 'SOCIAL_GRAPH_URL',
  media: 'MEDIA_URL',
};

/**
 * Which subgraphs each process calls (the URLs it is given; compose's `depends_on` but for users → media, which
 * would close the cycle users → media → social-graph → users: users asks media only when an avatar changes).
 */
export const DEPENDS_ON: Record<ServiceName, readonly SubgraphServiceName[]> = {
  users: ['media'],
  'social-graph': ['users'],
  media: ['social-graph'],
  posts: ['users', 'social-graph', 'media'],
  feed: ['social-graph'],
  gateway: ['users', 'posts', 'feed', 'social-graph', 'media'],
};

/** Start order: each tier waits for the one before it to be ready (compose's `service_healthy` conditions). */
export const START_TIERS: readonly (readonly ServiceName[])[] = [
  ['users', 'media'],
  ['social-graph'],
  ['posts', 'feed'],
  ['gateway'],
];
