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
import { fillViewerFields, splitByViewer } from './viewer-fields.ts';

/** `extensions.code` of the error that ends a subscription whose client fell more than the queue size behind. */
export const SUBSCRIPTION_QUEUE_OVERFLOW = ErrorCode.SubscriptionQueueOverflow;

export interface SubscriptionServiceOptions {
  supergraphSdl: string;
  bus: EventBus;
  /** Every subgraph's data source by name, realtime included (the gateway's `buildService` fills it). */
  dataSources: ReadonlyMap<string, GraphQLDataSource<GatewayContext>>;
  /**
   * Per-event authorization, batched: who among these viewers (user ids) may see the post an event is about
   * right now, whether anonymous viewers may, and who of them liked it. Null when the post is gone.
   */
  postAudience(postId: string, viewerIds: readonly string[]): Promise<PostAudience | null>;
  /** Whether the session was signed out since the connection was authenticated (checked per event). */
  signedOut(sessionIds: readonly string[]): Promise<ReadonlySet<string>>;
  /**
   * Called with each event before its plan runs (the entity cache invalidates what the event changed, so the
   * delivery never reads entities of before it).
   */
  beforeDeliver?(subject: string, event: unknown): Promise<void>;
  /** Results that may wait for one client subscription (and events for one group) before it ends. */
  queueSize: number;
  logger: Logger;
}

/** Of the viewers asked (every signed-in recipient of the event): who may not see the post, who liked it. */
export interface PostAudience {
  public: boolean;
  hiddenFrom: ReadonlySet<string>;
  likedBy: ReadonlySet<string>;
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
  plan: PlannedDocument;
  /** How the selection splits by viewer (viewer-fields.ts), with the shared part's plan when it is batched. */
  split: { kind: 'shared' } | { kind: 'per-viewer' } | { kind: 'batched'; shared: PlannedDocument };
  operationContext: ReturnType<typeof buildOperationContext>;
  fieldName: string;
  source: EventSource<unknown>;
  field: { definition: GraphQLField<unknown, unknown>; node: FieldNode };
}

interface PlannedDocument {
  plan: QueryPlan;
  operationContext: ReturnType<typeof buildOperationContext>;
}

/** One result for some members of a group. */
type Delivery = [members: readonly Member[], result: ExecutionResult];

/** One client subscription: its results and who it runs as. */
interface Member {
  queue: EventQueue<ExecutionResult>;
  identity: Identity | null;
}

/**
 * Subscribers with the same operation and variables, whoever they are: one upstream listener, one batched
 * authorization and one shared execution per event (ADR 15).
 */
interface Group {
  /** The realtime root field (the `field` label of the metrics). */
  field: string;
  members: Set<Member>;
  /** The signed-in members by user id: an event addressed to a few users finds them without a pass over all. */
  byUser: Map<string, Set<Member>>;
  ready: Promise<void>;
  /** The bus subscription is registered: an event published from now on reaches the members. */
  listening: boolean;
  stopListening: (() => void) | null;
  /** Events accepted and not yet delivered. */
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
    // Whoever subscribes: per-viewer work is done per event (authorization batched, shared execution, ADR 15).
    const key = JSON.stringify([request.query, request.operationName, variables]);
    const group = this.groups.get(key) ?? this.createGroup(key, prepared, variables);
    const member: Member = {
      identity: request.identity,
      queue: new EventQueue<ExecutionResult>(
        this.options.queueSize,
        () => overflowError(this.options.queueSize),
        () => this.leave(key, group, member),
      ),
    };
    group.members.add(member);
    if (member.identity) {
      const mine = group.byUser.get(member.identity.userId);
      if (mine) mine.add(member);
      else group.byUser.set(member.identity.userId, new Set([member]));
    }
    try {
      await group.ready;
    } catch (error) {
      member.queue.end();
      throw error;
    }
    return member.queue;
  }

  /** Ends every open subscription (graphql-ws sends `complete`) and the bus subscriptions. */
  stop(): void {
    for (const group of this.groups.values()) for (const member of group.members) member.queue.end();
    this.hub.close();
    this.stopReporting();
  }

  private plan(document: DocumentNode, operationName: string | undefined) {
    const plan = this.planner.buildQueryPlan(operationFromDocument(this.api, document, { operationName }));
    const node = plan.node;
    if (node?.kind !== 'Subscription' || node.primary.serviceName !== REALTIME_SUBGRAPH.name) {
      throw new Error(`Subscription root fields must come from the ${REALTIME_SUBGRAPH.name} subgraph`);
    }
    const planned: PlannedDocument = {
      plan: {
        kind: 'QueryPlan',
        node: node.rest ? { kind: 'Sequence', nodes: [node.primary, node.rest] } : node.primary,
      },
      operationContext: buildOperationContext({ schema: this.apiSchema, operationDocument: document, operationName }),
    };
    return { planned, primary: node.primary };
  }

  private prepare(request: SubscriptionRequest): PreparedOperation {
    const cacheKey = `${request.operationName ?? ''}\n${request.query}`;
    const cached = this.prepared.get(cacheKey);
    if (cached) return cached;
    const operationName = request.operationName ?? undefined;
    const { planned, primary: primaryFetch } = this.plan(request.document, operationName);
    const primary = graphql.getOperationAST(graphql.parse(primaryFetch.operation));
    const fieldNode = primary?.selectionSet.selections.find(
      (selection): selection is FieldNode =>
        selection.kind === graphql.Kind.FIELD && selection.name.value !== '__typename',
    );
    const definition = fieldNode && this.realtimeSchema.getSubscriptionType()?.getFields()[fieldNode.name.value];
    const source = fieldNode && EVENT_SOURCES[fieldNode.name.value];
    if (!fieldNode || !definition || !source) throw new Error('The subscription plan has no realtime root field');
    const split = splitByViewer(this.apiSchema, request.document);
    const prepared: PreparedOperation = {
      plan: planned,
      split:
        split.kind === 'batched' ? { kind: 'batched', shared: this.plan(split.shared, operationName).planned } : split,
      operationContext: planned.operationContext,
      fieldName: fieldNode.name.value,
      source,
      field: { definition, node: fieldNode },
    };
    if (this.prepared.size >= MAX_CACHED) this.prepared.clear();
    this.prepared.set(cacheKey, prepared);
    return prepared;
  }

  private createGroup(key: string, prepared: PreparedOperation, variables: Record<string, unknown>): Group {
    const args = graphql.getArgumentValues(prepared.field.definition, prepared.field.node, variables);
    const group: Group = {
      field: prepared.fieldName,
      members: new Set(),
      byUser: new Map(),
      ready: Promise.resolve(),
      listening: false,
      stopListening: null,
      pending: 0,
      chain: Promise.resolve(),
    };
    const { source } = prepared;
    group.ready = this.hub
      .listen(source.subject, (event) => {
        if (!source.filter(event, args)) return;
        if (group.pending >= this.options.queueSize) {
          this.options.logger.warn({ field: prepared.fieldName }, 'subscription group overflow: ending it');
          for (const member of group.members) member.queue.fail(overflowError(this.options.queueSize));
          return;
        }
        group.pending++;
        // Events are worked on at once (authorization and execution read the state as of their arrival) and
        // delivered in the order they came, so one slow event does not hold back the ones addressed to others.
        const work = withEventSpan(
          `deliver ${prepared.fieldName}`,
          eventTraceparent(event),
          { field: prepared.fieldName },
          () => this.resolve(group, prepared, variables, event),
        );
        group.chain = group.chain.then(async () => {
          const deliveries = await work;
          group.pending--;
          for (const [members, result] of deliveries) for (const member of members) member.queue.push(result);
          const latency = deliveries.length
            ? secondsSince((event as { occurredAt?: unknown } | null)?.occurredAt)
            : null;
          if (latency !== null) subscriptionDeliveryLatency.observe({ field: prepared.fieldName }, latency);
        });
      })
      .then((stopListening) => {
        group.stopListening = stopListening;
        group.listening = true;
        if (group.members.size === 0) this.closeGroup(key, group);
      });
    this.groups.set(key, group);
    return group;
  }

  private leave(key: string, group: Group, member: Member) {
    group.members.delete(member);
    if (member.identity) {
      const mine = group.byUser.get(member.identity.userId);
      mine?.delete(member);
      if (mine?.size === 0) group.byUser.delete(member.identity.userId);
    }
    if (group.members.size === 0) this.closeGroup(key, group);
  }

  private closeGroup(key: string, group: Group) {
    if (this.groups.get(key) === group) this.groups.delete(key);
    group.stopListening?.();
    group.stopListening = null;
  }

  /**
   * Who of a group receives one event: the members it is addressed to, minus signed-out sessions (their
   * subscriptions end with UNAUTHENTICATED), minus those who may not see its post now (one batched call for all
   * of them, ADR 15), both asked at once. With the audience, for the viewer part of a batched selection.
   */
  private async recipients(group: Group, prepared: PreparedOperation, event: unknown, to: ReadonlySet<string> | null) {
    const addressed: Member[] = [];
    if (to === null) addressed.push(...group.members);
    else if (to.size < group.byUser.size) {
      for (const userId of to) for (const member of group.byUser.get(userId) ?? []) addressed.push(member);
    } else {
      for (const member of group.members) if (member.identity && to.has(member.identity.userId)) addressed.push(member);
    }
    const sessions = new Set<string>();
    for (const { identity } of addressed) if (identity) sessions.add(identity.sessionId);
    const postId = prepared.source.postId(event);
    // The session check and the audience are independent reads: asked at once, one round trip less per event.
    const viewerIds = [...new Set(addressed.flatMap((m) => (m.identity ? [m.identity.userId] : [])))];
    const asked = postId !== null && addressed.length > 0 ? this.options.postAudience(postId, viewerIds) : null;
    // A failed audience read must not keep signed-out sessions' subscriptions alive: those end first.
    asked?.catch(() => undefined);
    const ended = sessions.size > 0 ? await this.options.signedOut([...sessions]) : new Set<string>();
    let members = addressed;
    if (ended.size > 0) {
      const error = new graphql.GraphQLError('The session has been signed out', {
        extensions: { code: ErrorCode.Unauthenticated },
      });
      members = [];
      for (const member of addressed) {
        if (member.identity && ended.has(member.identity.sessionId)) member.queue.fail(error);
        else members.push(member);
      }
    }
    if (postId === null || members.length === 0) return { members, audience: null };
    const audience = await asked;
    if (!audience) return { members: [], audience: null };
    members = members.filter((m) => (m.identity ? !audience.hiddenFrom.has(m.identity.userId) : audience.public));
    return { members, audience: { postId, ...audience } };
  }

  /**
   * One event for one group (ADR 15): the recipients (batched authorization), then the selection's shared part
   * once for all of them, as one of them (every field in it has the same value for each of them), and the
   * viewer part from the audience; a selection with other viewer-dependent fields runs once per distinct viewer.
   * A result without data (an entity became invisible between the check and the fetch) is skipped.
   *
   * The shared part does not wait for the authorization: it starts at once as the group's first member, and its
   * result is used only if that member is among the recipients (then it is exactly what each of them would read);
   * otherwise it is thrown away and run again as a recipient. Nothing reaches anyone before the check.
   */
  private async resolve(
    group: Group,
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    event: unknown,
  ): Promise<Delivery[]> {
    const out: Delivery[] = [];
    try {
      if (group.members.size === 0) return out;
      const to = prepared.source.addressedTo(event);
      const pending = this.recipients(group, prepared, event, to);
      // The cache must not serve entities older than this event (ADR 17), whoever the plan runs as.
      const fresh = this.options.beforeDeliver?.(prepared.source.subject, event);
      const root = { [prepared.fieldName]: prepared.source.value(event) };
      const { split } = prepared;
      const sharedPlan = split.kind === 'shared' ? prepared.plan : split.kind === 'batched' ? split.shared : null;
      // Only for events to everyone who may see the post: one addressed to a few users (a notification) has its
      // recipients at once, and the group's first member is almost never one of them.
      const candidate =
        sharedPlan && to === null && group.members.size > 1 ? group.members.values().next().value! : null;
      const early = candidate
        ? Promise.resolve(fresh).then(() => this.execute(sharedPlan!, variables, candidate.identity, root))
        : null;
      early?.catch(() => undefined);
      const { members, audience } = await pending;
      await fresh;
      if (members.length === 0) return out;
      const byViewer = new Map<string, Member[]>();
      for (const member of members) {
        const viewer = member.identity?.sessionId ?? '';
        const list = byViewer.get(viewer);
        if (list) list.push(member);
        else byViewer.set(viewer, [member]);
      }
      // The shared part as a recipient: the early run if its member is one, else run again as the first recipient.
      const sharedResult = () =>
        early && candidate && members.includes(candidate)
          ? early
          : this.execute(sharedPlan!, variables, members[0]!.identity, root);
      if (split.kind === 'per-viewer' || (byViewer.size === 1 && split.kind === 'batched')) {
        await Promise.all(
          [...byViewer.values()].map(async (viewers) => {
            const result = await this.execute(prepared.plan, variables, viewers[0]!.identity, root);
            if (result) out.push([viewers, result]);
          }),
        );
      } else if (split.kind === 'shared') {
        const result = await sharedResult();
        if (result) out.push([members, result]);
      } else {
        const shared = await sharedResult();
        if (shared) await this.resolveBatched(prepared, variables, root, shared, byViewer, audience, out);
      }
    } catch (error) {
      this.options.logger.error({ err: error, field: prepared.fieldName }, 'subscription event failed');
    }
    return out;
  }

  /**
   * The viewer part of a batched selection: `viewerHasLiked` of the event's post from the audience. Viewers who
   * see the same values share one result object; a marker on another post (not in the audience) makes that
   * viewer's result come from an execution of its own.
   */
  private async resolveBatched(
    prepared: PreparedOperation,
    variables: Record<string, unknown>,
    root: Record<string, unknown>,
    shared: ExecutionResult,
    byViewer: Map<string, Member[]>,
    audience: ({ postId: string } & PostAudience) | null,
    out: Delivery[],
  ) {
    const variants = new Map<boolean, ExecutionResult | null>();
    const own: Member[][] = [];
    for (const viewers of byViewer.values()) {
      const userId = viewers[0]!.identity?.userId ?? null;
      const liked = userId !== null && !!audience?.likedBy.has(userId);
      let result = variants.get(liked);
      if (result === undefined) {
        const filled = fillViewerFields(shared.data, (postId) => (postId === audience?.postId ? liked : undefined));
        result = filled.complete ? { ...shared, data: filled.data as ExecutionResult['data'] } : null;
        variants.set(liked, result);
      }
      if (result) out.push([viewers, result]);
      else own.push(viewers);
    }
    await Promise.all(
      own.map(async (viewers) => {
        const result = await this.execute(prepared.plan, variables, viewers[0]!.identity, root);
        if (result) out.push([viewers, result]);
      }),
    );
  }

  /** One plan for one event as `identity`; null when the result has no data (skipped, ADR 7). */
  private async execute(
    planned: PlannedDocument,
    variables: Record<string, unknown>,
    identity: Identity | null,
    realtimeRoot: Record<string, unknown>,
  ): Promise<ExecutionResult | null> {
    const context: GatewayContext = { identity, realtimeRoot };
    // executeQueryPlan reads request, context, logger and metrics of the request context, nothing else.
    const requestContext = {
      request: { variables, operationName: planned.operationContext.operation.name?.value },
      context,
      logger: this.options.logger,
      metrics: {},
    } as unknown as RequestContext;
    this.services ??= Object.fromEntries(this.options.dataSources);
    const result = await executeQueryPlan(
      planned.plan,
      this.services,
      requestContext,
      planned.operationContext,
      this.supergraphSchema,
      this.api,
    );
    if (result.data == null) {
      this.options.logger.debug({ errors: result.errors }, 'subscription event skipped');
      return null;
    }
    return result as ExecutionResult;
  }
}

function overflowError(queueSize: number) {
  return new graphql.GraphQLError(`The subscription ended: more than ${queueSize} events were waiting to be sent`, {
    extensions: { code: SUBSCRIPTION_QUEUE_OVERFLOW },
  });
}
