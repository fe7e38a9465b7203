import {
  executeQueryPlan,
  type ApolloGateway,
  type GraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
  type ServiceMap,
} from '@apollo/gateway';
import type { FetchNode, QueryPlan } from '@apollo/query-planner';
import {
  Kind,
  OperationTypeNode,
  parse,
  print,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { graphql } from '../graphql-runtime.ts';
import { singleFetchRequests, withInternalSpan } from '@insta/infra';
import { Lru } from '../cache/lru.ts';

type Gateway = Pick<ApolloGateway, 'load' | 'onSchemaLoadOrUpdate' | 'stop'>;
type LoadResult = Awaited<ReturnType<ApolloGateway['load']>>;
type Executor = LoadResult['executor'];
type RequestContext = Parameters<Executor>[0];
type ExecutionResult = Awaited<ReturnType<Executor>>;
type ResolvedPlan = Parameters<
  NonNullable<ConstructorParameters<typeof ApolloGateway>[0]>['experimental_didResolveQueryPlan'] & {}
>[0];
type Response = Awaited<ReturnType<GraphQLDataSource['process']>>;

/** What `executeQueryPlan` needs besides the plan, read once from the gateway (private fields, @apollo/gateway 2.14). */
interface GatewaySchemas {
  supergraphSchema?: Parameters<typeof executeQueryPlan>[4];
  apiSchema?: Parameters<typeof executeQueryPlan>[5];
}

/** A plan the fast path serves: one fetch, and what answering it without the gateway's result shaping needs. */
interface FastPlan {
  queryPlan: QueryPlan;
  fetch: FetchNode;
  service: GraphQLDataSource;
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  schemas: Required<GatewaySchemas>;
}

/** A request asking Apollo Gateway to show its query plan (a development feature): the full path answers it. */
const QUERY_PLAN_HEADER = 'apollo-query-plan-experimental';

/** GraphQLDataSourceRequestKind.INCOMING_OPERATION (the enum is not exported), as the gateway's executor sends. */
const INCOMING_OPERATION = 'incoming operation' as GraphQLDataSourceProcessOptions['kind'];

/**
 * The single-fetch fast path (docs/adr/0019-lean-hops.md). A query whose plan is one fetch to one subgraph, and
 * whose fetch is the client's operation itself (same selections, aliases, arguments, directives and variables,
 * no fragments, no abstract or enum types), is answered with the subgraph's `data` as it came: Apollo Gateway
 * would rebuild the same object field by field (`operationFromDocument` and `computeResponse` on every request,
 * then the merge into an empty result). Anything else (another plan, or a fetch that answered with errors, no
 * data, or failed) is answered by Apollo Gateway's own executor: for a fetch already made, by `executeQueryPlan`
 * on that same answer (the subgraph is not asked twice), so errors, paths and partial data are exactly its own.
 *
 * Plans are learnt from the gateway (`experimental_didResolveQueryPlan`): the first request of a document takes
 * the full path, the next ones the fast path if its plan qualifies.
 */
export class SingleFetchPath {
  private readonly plans: Lru<string, FastPlan | null>;
  private schemas: GatewaySchemas = {};

  constructor(maxPlans = 10_000) {
    this.plans = new Lru(maxPlans);
  }

  /** For ApolloGateway's `experimental_didResolveQueryPlan`: called with the plan of every request it executes. */
  readonly onPlan = ({ queryPlan, serviceMap, operationContext, requestContext }: ResolvedPlan) => {
    const key = planKey(requestContext);
    if (key === undefined || this.plans.get(key) !== undefined) return;
    let plan: FastPlan | null = null;
    try {
      plan = fastPlanOf(queryPlan, serviceMap, operationContext.schema, operationContext, this.schemas);
    } catch {
      // A plan this code cannot read is one Apollo Gateway serves: the fast path is an optimisation only.
    }
    this.plans.set(key, plan);
  };

  /** The gateway as Apollo Server sees it, with the fast path in front of its executor. */
  wrap(gateway: Gateway): Gateway {
    const read = () => {
      const internals = gateway as unknown as GatewaySchemas;
      this.schemas = { supergraphSchema: internals.supergraphSchema, apiSchema: internals.apiSchema };
      this.plans.clear();
    };
    return {
      load: async (options) => {
        const loaded = await gateway.load(options);
        read();
        return { ...loaded, executor: this.executor(loaded.executor) };
      },
      // A new supergraph: plans (and the schemas they execute against) are learnt again.
      onSchemaLoadOrUpdate: (callback) =>
        gateway.onSchemaLoadOrUpdate((schemaContext) => {
          read();
          callback(schemaContext);
        }),
      stop: () => gateway.stop(),
    };
  }

  private executor(full: Executor): Executor {
    return async (requestContext) => {
      const key = planKey(requestContext);
      const plan = key === undefined ? undefined : this.plans.get(key);
      if (!plan || requestContext.metrics.captureTraces || requestContext.request.http?.headers.has(QUERY_PLAN_HEADER))
        return full(requestContext);
      return withInternalSpan('gateway.request', { 'gateway.single_fetch': plan.fetch.serviceName }, () =>
        this.execute(plan, requestContext),
      );
    };
  }

  private async execute(plan: FastPlan, requestContext: RequestContext): Promise<ExecutionResult> {
    const provided = requestContext.request.variables ?? {};
    // As ApolloGateway's validateIncomingRequest: variables are coerced against the operation before any fetch.
    const { errors } = graphql.getVariableValues(plan.schema, plan.operation.variableDefinitions ?? [], provided);
    if (errors) return { errors };
    const variables: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const name of plan.fetch.variableUsages ?? [])
      if (Object.hasOwn(provided, name) && provided[name] !== undefined) variables[name] = provided[name];

    let outcome: { response: Response } | { error: unknown };
    try {
      const response = await plan.service.process({
        kind: INCOMING_OPERATION,
        request: { query: plan.fetch.operation, variables, operationName: plan.fetch.operationName },
        incomingRequestContext: requestContext,
        context: requestContext.context,
        document: plan.fetch.operationDocumentNode,
        pathInIncomingRequest: [],
      });
      const data = response.data;
      if (!response.errors && data !== null && typeof data === 'object') {
        singleFetchRequests.inc({ outcome: 'fast' });
        return { data };
      }
      outcome = { response };
    } catch (error) {
      outcome = { error };
    }
    singleFetchRequests.inc({ outcome: 'replayed' });
    // The fetch is made: Apollo Gateway shapes its answer (errors, paths, nulls) from it, without a second fetch.
    const replay: GraphQLDataSource = {
      process: () => ('error' in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome.response)),
    };
    const serviceMap: ServiceMap = { [plan.fetch.serviceName]: replay };
    const operationContext = { schema: plan.schema, operation: plan.operation, fragments: Object.create(null) };
    return executeQueryPlan(
      plan.queryPlan,
      serviceMap,
      requestContext,
      operationContext,
      plan.schemas.supergraphSchema,
      plan.schemas.apiSchema,
    );
  }
}

/** ApolloGateway's query-plan key: the document's hash and the operation name. */
function planKey(requestContext: RequestContext): string | undefined {
  const hash = requestContext.queryHash;
  if (hash === undefined) return undefined;
  return `${hash}\n${requestContext.request.operationName ?? ''}`;
}

/** The plan's one fetch if the fast path may serve it, else null (ApolloGateway's executor serves it). */
export function fastPlanOf(
  queryPlan: QueryPlan,
  serviceMap: ServiceMap,
  schema: GraphQLSchema,
  operationContext: { operation: OperationDefinitionNode; fragments: Record<string, unknown> },
  schemas: GatewaySchemas,
): FastPlan | null {
  const fetch = queryPlan.node;
  const { operation } = operationContext;
  if (fetch?.kind !== 'Fetch' || fetch.operationKind !== OperationTypeNode.QUERY) return null;
  if (fetch.requires || fetch.inputRewrites?.length || fetch.outputRewrites?.length || fetch.contextRewrites?.length)
    return null;
  if (operation.operation !== OperationTypeNode.QUERY || Object.keys(operationContext.fragments).length > 0)
    return null;
  const service = serviceMap[fetch.serviceName];
  const { supergraphSchema, apiSchema } = schemas;
  if (!service || !supergraphSchema || !apiSchema) return null;
  const fetchedDocument = parse(fetch.operation);
  const fetched = fetchedDocument.definitions[0];
  if (fetched?.kind !== Kind.OPERATION_DEFINITION || fetchedDocument.definitions.length !== 1) return null;
  // Printed alike, names aside (the planner names its fetches): the subgraph runs the client's own operation.
  if (printUnnamed(fetched) !== printUnnamed(operation)) return null;
  if (!hasPlainSelections(schema, operation)) return null;
  return { queryPlan, fetch, service, schema, operation, schemas: { supergraphSchema, apiSchema } };
}

const printUnnamed = (operation: OperationDefinitionNode) => print({ ...operation, name: undefined });

/**
 * Whether the subgraph's answer to this selection is the client's answer as it stands: only fields (no fragments
 * to apply by type), none of an abstract type (whose `__typename` the gateway resolves) and none of an enum type
 * (whose values the gateway checks against the API schema, which may hide some), and no introspection.
 */
function hasPlainSelections(schema: GraphQLSchema, operation: OperationDefinitionNode): boolean {
  const { getNamedType, isAbstractType, isCompositeType, isEnumType, TypeInfo, visit, visitWithTypeInfo } = graphql;
  const typeInfo = new TypeInfo(schema);
  let plain = true;
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation] };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      InlineFragment: () => {
        plain = false;
      },
      FragmentSpread: () => {
        plain = false;
      },
      Field: (node) => {
        const type = typeInfo.getType();
        if (node.name.value.startsWith('__') || !type) {
          plain = false;
          return;
        }
        const named = getNamedType(type);
        if (isAbstractType(named) || isEnumType(named) || (isCompositeType(named) && !node.selectionSet)) plain = false;
      },
    }),
  );
  return plain;
}
