import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import {
  FeedSubjects,
  PostsSubjects,
  type CommentAddedEvent,
  type EventEnvelope,
  type FeedItemsAddedEvent,
  type NotificationUpsertedEvent,
  type PostLikedEvent,
} from '@insta/events';
import type { GatewayContext } from '../context.ts';
import { graphql } from '../graphql-runtime.ts';

/** The SDL of the gateway's in-process subgraph (composed into the supergraph like the others). */
type SubgraphResponse = Awaited<ReturnType<GraphQLDataSource['process']>>;

/** Bound of the per-selection caches (parsed fetches here, query plans in subscriptions.ts). */
export const MAX_CACHED = 1_000;

export const REALTIME_SDL_PATH = fileURLToPath(new URL('../../../schema/realtime.graphql', import.meta.url));

/**
 * Where the events of one `Subscription` field come from, which of them a subscription receives, and what the
 * realtime subgraph answers for one (entity ids only: the owning subgraphs resolve every other field).
 */
export interface EventSource<E> {
  subject: string;
  /** Anonymous connections may not subscribe to it (UNAUTHENTICATED). */
  requiresViewer: boolean;
  /** Whether a subscription with these arguments receives the event, whoever subscribed. */
  filter(event: E, args: Record<string, unknown>): boolean;
  /** The signed-in users the event is addressed to, or null for every subscriber who may see its post. */
  addressedTo(event: E): ReadonlySet<string> | null;
  /**
   * The post the event is about: delivered only while the subscriber can see it (per-event authorization).
   * Null for events addressed to the subscriber alone (their own notifications), which `addressedTo` authorizes.
   */
  postId(event: E): string | null;
  /** The field's value, the root of the subscription's primary fetch. */
  value(event: E): Record<string, unknown>;
}

const source = <E>(definition: EventSource<E>): EventSource<unknown> => definition as EventSource<unknown>;

export const EVENT_SOURCES: Readonly<Record<string, EventSource<unknown>>> = {
  postLiked: source<PostLikedEvent & EventEnvelope>({
    subject: PostsSubjects.postLiked,
    requiresViewer: false,
    filter: (event, args) => event.postId === args.postId,
    addressedTo: () => null,
    postId: (event) => event.postId,
    value: (event) => ({
      post: { id: event.postId },
      user: { id: event.userId },
      likeCount: event.likeCount,
      eventId: event.eventId,
      occurredAt: event.occurredAt,
    }),
  }),
  commentAdded: source<CommentAddedEvent>({
    subject: PostsSubjects.commentAdded,
    requiresViewer: false,
    filter: (event, args) => event.postId === args.postId,
    addressedTo: () => null,
    postId: (event) => event.postId,
    value: (event) => ({ id: event.commentId }),
  }),
  feedUpdated: source<FeedItemsAddedEvent>({
    subject: FeedSubjects.itemsAdded,
    requiresViewer: true,
    filter: () => true,
    addressedTo: (event) => new Set(event.userIds),
    postId: (event) => event.postId,
    value: (event) => ({ id: event.postId }),
  }),
  notificationReceived: source<NotificationUpsertedEvent>({
    subject: FeedSubjects.notificationUpserted,
    requiresViewer: true,
    filter: () => true,
    addressedTo: (event) => new Set([event.userId]),
    postId: () => null,
    // The notification as it was right after this change: clients order its events by (updatedAt, actorCount).
    value: (event) => ({ id: event.notificationId, actorCount: event.actorCount, updatedAt: event.updatedAt }),
  }),
};

/** The realtime subgraph's schema; fails at start if a Subscription field has no event source or vice versa. */
export async function loadRealtimeSchema(path = REALTIME_SDL_PATH): Promise<GraphQLSchema> {
  const schema = buildSubgraphSchema({ typeDefs: graphql.parse(await readFile(path, 'utf8')) });
  const fields = Object.keys(schema.getSubscriptionType()?.getFields() ?? {}).sort();
  const sources = Object.keys(EVENT_SOURCES).sort();
  if (fields.join() !== sources.join()) {
    throw new Error(`realtime.graphql Subscription fields [${fields}] do not match the event sources [${sources}]`);
  }
  return schema;
}

/**
 * The realtime subgraph as a data source (never HTTP): executes the fetch the query planner sends it (the
 * subscription's primary fetch) with graphql-js against the realtime schema, the event's `realtimeRoot` as the
 * root value, so aliases and `__typename` work as in any subgraph.
 */
export class RealtimeDataSource implements GraphQLDataSource<GatewayContext> {
  /** Parsed fetch operations, one per distinct subscription selection (cleared past MAX_CACHED). */
  private readonly documents = new Map<string, DocumentNode>();

  constructor(private readonly schema: GraphQLSchema) {}

  async process({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<SubgraphResponse> {
    const rootValue = context.realtimeRoot;
    const query = request.query ?? '';
    if (!rootValue) {
      return { errors: [{ message: 'The realtime subgraph serves subscription events only' }] };
    }
    let document = this.documents.get(query);
    if (!document) {
      document = graphql.parse(query);
      if (this.documents.size >= MAX_CACHED) this.documents.clear();
      this.documents.set(query, document);
    }
    const result = await graphql.execute({
      schema: this.schema,
      document,
      rootValue,
      variableValues: request.variables ?? {},
      operationName: request.operationName ?? null,
    });
    return {
      data: result.data ?? null,
      ...(result.errors ? { errors: result.errors.map((error) => error.toJSON()) } : {}),
    };
  }
}
