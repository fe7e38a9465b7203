/**
 * The domain events the subgraphs publish on JetStream: one module per publishing subgraph, with its stream, its
 * subjects and the payload type of each. Publishers and consumers import the same types from here.
 */
export * from './common.ts';
export * from './users.ts';
export * from './media.ts';
export * from './posts.ts';
export * from './social.ts';
export * from './feed.ts';
