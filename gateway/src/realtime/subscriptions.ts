import { buildOperationContext, executeQueryPlan, type GraphQLDataSource } from '@apollo/gateway';
import { Supergraph, operationFromDocument, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type QueryPlan } from '@apollo/query-planner';
import type { DocumentNode, ExecutionResult, FieldNode, GraphQLField, GraphQLError, GraphQLSchema } from 'graphql';
import {
  ErrorCode,
  addSubscriptionSource,
  eventTraceparent,
  withEventSpan,
  secondsSince,
  subscriptionDeliveryLatency,
  type EventBus,
  type Identity,
  type Logger,
} from '@insta/infra';
import { REALTIME_SUBGRAPH } from '../compose.ts';
import type { GatewayContext } from '../context.ts';
import { graphql } from '../graphql-runtime.ts';
import { EventHub } from './event-hub.ts';
import { EventQueue } from './event-queue.ts';
import { EVENT_SOURCES, MAX_CACHED, type EventSource } from './realtime-subgraph.ts';

/** `extensions.code` of the error that ends a subscription whose client fell more than the queue size behind. */
export const SUBSCRIPTION_QUEUE_OVERFLOW = 'SUBSCRIPTION_QUEUE_OVERFLOW';

export interface SubscriptionServiceOptions {
  supergraphSdl: string;
  bus: EventBus;
  /** Every subgraph's data source by name, realtime included (the gateway's `buildService` fills it). */
  dataSources: ReadonlyMap<string, GraphQLDataSource<GatewayContext>>;
  /** Per-event authorization: whether `identity` may see the post an event is about, right now. */
  canSeePost(identity: Identity | null, postId: string): Promise<boolean>;
  /** Whether the session was signed out since the connection was authenticated (checked per event). */
  isSignedOut(identity: Identity): Promise<boolean>;
  /**
   * Called with each event before its plan runs (the entity cache invalidates what the event changed, so the
   * delivery never reads entities of before it).
   */
  beforeDeliver?(subject: string, event: unknown): Promise<void>;
  /** Results that may wait for one client subscription (and events for one group) before it ends. */
  queueSize: number;
  logger: Logger;
}

export interface SubscriptionRequest {
  query: string;
  /** Parsed and validated against `apiSchema` (with the operation limits) by the caller. */
  document: DocumentNode;
  operationName: string | null;
  variables: Record<string, unknown>;
  identity: Identity | null;
}

/** What one distinct subscription operation needs per event: planned once, cached by its text. */
interface PreparedOperation {
  /** The planner's `Subscription { primary, rest }` as a query plan that executeQueryPlan runs per event. */
  plan: QueryPlan;
  operationContext: ReturnType<typeof buildOperationContext>;
  fieldName: string;
  source: EventSource<unknown>;
  field: { definition: GraphQLField<unknown, unknown>; node: FieldNode };
}

/**
 * Subscribers with the same operation, variables and session (or all anonymous): one upstream listener and one
 * execution per event.
 */
interface Group {
  /** The realtime root field (the `field` label of the metrics). */
  field: string;
  members: Set<EventQueue<ExecutionResult>>;
  ready: Promise<void>;
  /** The bus subscription is registered: an event published from now on reaches the members. */
  listening: boolean;
  stopListening: (() => void) | null;
  /** Events accepted and not yet executed. */
  pending: number;
  chain: Promise<void>;
}

type RequestContext = Parameters<typeof executeQueryPlan>[2];

/**
 * Federated subscriptions (docs/adr/0007-subscriptions.md): the realtime subgraph's events, from the event bus,
 * run through the query planner's plan for the rest of the selection, as queries, with the subscriber's identity.
 */
export class SubscriptionService {
  /** The public schema (graphql-js), for validating operations received over websockets. */
  readonly apiSchema: GraphQLSchema;
  private readonly api: Schema;
  private readonly supergraphSchema: GraphQLSchema;
  private readonly planner: QueryPlanner;
  private readonly hub: EventHub;
  private readonly prepared = new Map<string, PreparedOperation>();
  private readonly groups = new Map<string, Group>();
  private services: Record<string, GraphQLDataSource<GatewayContext>> | undefined;
  private readonly stopReporting: () => void;

  constructor(
    private readonly realtimeSchema: GraphQLSchema,
    private readonly options: SubscriptionServiceOptions,
  ) {
    const supergraph = Supergraph.build(options.supergraphSdl);
    this.api = supergraph.apiSchema();
    this.apiSchema = this.api.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
    this.hub = new EventHub(options.bus, options.logger);
    this.stopReporting = addSubscriptionSource(() => this.sizeByField());
  }

  private sizeByField(): [Record<string, string>, number][] {
    const byField = new Map<string, number>();
    for (const group of this.groups.values()) {
      if (group.listening) byField.set(group.field, (byField.get(group.field) ?? 0) + group.members.size);
    }
    return [...byField].map(([field, size]) => [{ field }, size]);
  }

  /** Client subscriptions open and listening right now. */
  get size(): number {
    let size = 0;
    for (const group of this.groups.values()) if (group.listening) size += group.members.size;
    return size;
  }

  /** Starts one client subscription: its results, or the errors that refuse it. */
  async open(request: SubscriptionRequest): Promise<EventQueue<ExecutionResult> | readonly GraphQLError[]> {
    const prepared = this.prepare(request);
    if (prepared.source.requiresViewer && !request.identity) {
      return [
        new graphql.GraphQLError(`Sign in to subscribe to ${prepared.fieldName}`, {
          extensions: { code: ErrorCode.Unauthenticated },
        }),
      ];
    }
    const operation = prepared.operationContext.operation;
    const coerced = graphql.getVariableValues(this.apiSchema, operation.variableDefinitions ?? [], request.variables);
    if (coerced.errors) {
      return coerced.errors.map(
        (error) => new graphql.GraphQLError(error.message, { extensions: { code: ErrorCode.BadUserInput } }),
      );
    }
    const variables = coerced.coerced;
    const key = JSON.stringify([request.query, request.operationName, variables, request.identity?.sessionId ?? null]);
    const group = this.groups.get(key) ?? this.createGroup(key, prepared, variables, request.identity);
    const queue = new EventQueue<ExecutionResult>(
      this.options.queueSize,
      () => overflowError(this.options.queueSize),
      () => this.leave(key, group, queue),
    );
    group.members.add(queue);
    try {
      await group.ready;
    } catch (error) {
      queue.end();
      throw error;
    }
    return queue;
  }

  /** Ends every open subscription (graphql-ws sends `complete`) and the bus subscriptions. */
  stop(): void {
    for (const group of this.groups.values()) for (const member of group.members) member.end();
    this.hub.close();
    this.stopReporting();
  }

  private prepare(request: SubscriptionRequest): PreparedOperation {
    const cacheKey = `${request.operationName ?? ''}\n${request.query}`;
    const cached = this.prepared.get(cacheKey);
    if (cached) return cached;
    const operationName = request.operationName ?? undefined;
    const plan = this.planner.buildQueryPlan(operationFromDocument(this.api, request.document, { operationName }));
    const node = plan.node;
    if (node?.kind !== 'Subscription' || node.primary.serviceName !== REALTIME_SUBGRAPH.name) {
      throw new Error(`Subscription root fields must come from the ${REALTIME_SUBGRAPH.name} subgraph`);
    }
    const primary = graphql.getOperationAST(graphql.parse(node.primary.operation));
    const fieldNode = primary?.selectionSet.selections.find(
      (selection): selection is FieldNode =>
        selection.kind === graphql.Kind.FIELD && selection.name.value !== '__typename',
    );
    const definition = fieldNode && this.realtimeSchema.getSubscriptionType()?.getFields()[fieldNode.name.value];
    const source = fieldNode && EVENT_SOURCES[fieldNode.name.value];
    if (!fieldNode || !definition || !source) throw new Error('The subscription plan has no realtime root field');
    const prepared: PreparedOperation = {
      plan: {
        kind: 'QueryPlan',
        node: node.rest ? { kind: 'Sequence', nodes: [node.primary, node.rest] } : node.primary,
      },
      operationContext: buildOperationContext({
        schema: this.apiSchema,
        operationDocument: request.document,
        operationName,
      }),
      fieldName: fieldNode.name.value,
      source,
      field: { definition, node: fieldNode },
    };
    if (this.prepared.size >= MAX_CACHED) this.prepared.clear();
    this.prepared.set(cacheKey, prepared);
    return prepared;
  }

  private createGroup(
    key: string,
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    identity: Identity | null,
  ): Group {
    const args = graphql.getArgumentValues(prepared.field.definition, prepared.field.node, variables);
    const group: Group = {
      field: prepared.fieldName,
      members: new Set(),
      ready: Promise.resolve(),
      listening: false,
      stopListening: null,
      pending: 0,
      chain: Promise.resolve(),
    };
    const { source } = prepared;
    group.ready = this.hub
      .listen(source.subject, (event) => {
        if (!source.matches(event, args, identity)) return;
        if (group.pending >= this.options.queueSize) {
          this.options.logger.warn({ field: prepared.fieldName }, 'subscription group overflow: ending it');
          for (const member of group.members) member.fail(overflowError(this.options.queueSize));
          return;
        }
        group.pending++;
        group.chain = group.chain.then(() =>
          withEventSpan(`deliver ${prepared.fieldName}`, eventTraceparent(event), { field: prepared.fieldName }, () =>
            this.deliver(group, prepared, variables, identity, event),
          ),
        );
      })
      .then((stopListening) => {
        group.stopListening = stopListening;
        group.listening = true;
        if (group.members.size === 0) this.closeGroup(key, group);
      });
    this.groups.set(key, group);
    return group;
  }

  private leave(key: string, group: Group, queue: EventQueue<ExecutionResult>) {
    group.members.delete(queue);
    if (group.members.size === 0) this.closeGroup(key, group);
  }

  private closeGroup(key: string, group: Group) {
    if (this.groups.get(key) === group) this.groups.delete(key);
    group.stopListening?.();
    group.stopListening = null;
  }

  /**
   * One event for one group: ends the subscriptions of a signed-out session (UNAUTHENTICATED); skipped when the
   * subscriber cannot see its post any more, or when the plan's result has no data (an entity of the event
   * became invisible between the check and the fetch); see ADR 7.
   */
  private async deliver(
    group: Group,
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    identity: Identity | null,
    event: unknown,
  ) {
    try {
      if (group.members.size === 0) return;
      if (identity && (await this.options.isSignedOut(identity))) {
        const error = new graphql.GraphQLError('The session has been signed out', {
          extensions: { code: ErrorCode.Unauthenticated },
        });
        for (const member of group.members) member.fail(error);
        return;
      }
      const postId = prepared.source.postId(event);
      if (postId !== null && !(await this.options.canSeePost(identity, postId))) return;
      await this.options.beforeDeliver?.(prepared.source.subject, event);
      const context: GatewayContext = {
        identity,
        realtimeRoot: { [prepared.fieldName]: prepared.source.value(event) },
      };
      // executeQueryPlan reads request, context, logger and metrics of the request context, nothing else.
      const requestContext = {
        request: { variables, operationName: prepared.operationContext.operation.name?.value },
        context,
        logger: this.options.logger,
        metrics: {},
      } as unknown as RequestContext;
      this.services ??= Object.fromEntries(this.options.dataSources);
      const result = await executeQueryPlan(
        prepared.plan,
        this.services,
        requestContext,
        prepared.operationContext,
        this.supergraphSchema,
        this.api,
      );
      if (result.data == null) {
        this.options.logger.debug({ field: prepared.fieldName, errors: result.errors }, 'subscription event skipped');
        return;
      }
      for (const member of group.members) member.push(result as ExecutionResult);
      const latency = secondsSince((event as { occurredAt?: unknown } | null)?.occurredAt);
      if (latency !== null) subscriptionDeliveryLatency.observe({ field: prepared.fieldName }, latency);
    } catch (error) {
      this.options.logger.error({ err: error, field: prepared.fieldName }, 'subscription event failed');
    } finally {
      group.pending--;
    }
  }
}

function overflowError(queueSize: number) {
  return new graphql.GraphQLError(`The subscription ended: more than ${queueSize} events were waiting to be sent`, {
    extensions: { code: SUBSCRIPTION_QUEUE_OVERFLOW },
  });
}
