import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type SelectionNode,
} from 'graphql';
import { ErrorCode } from './errors.ts';
import { TransientError, isTransientError } from './failures.ts';
import { CLIENT_IP_HEADER, handleGraphQL, listen, readBody, sendJson, serveRoutes } from './http.ts';
import { setCursorSecret } from './pagination.ts';
import { IDENTITY_HEADER, verifyIdentity, type Identity } from './identity.ts';
import type { Logger } from './logger.ts';
import { DEFAULT_SHUTDOWN_GRACE_MS, httpDrainMs } from './shutdown.ts';
import { graphqlMetricsPlugin, serveMetrics } from './metrics/index.ts';
import { inRequestScope } from './request-scope.ts';

export type ReadinessChecks = Record<string, () => Promise<void>>;

/** Runs each named check with a timeout; healthy when all pass. */
export async function checkReadiness(checks: ReadinessChecks, timeoutMs = 2_000) {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
          }),
        ]);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ok: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
}

const CLIENT_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** Retry-After for an outage that does not say when it ends (Postgres, Redis or NATS down). */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** The typed, retryable answer to an infrastructure failure; `retryAfterSeconds` from the error when it knows. */
export function unavailableError(error: unknown, path?: GraphQLFormattedError['path']): GraphQLFormattedError {
  let retryAfterMs: number | undefined;
  for (let e: unknown = error; e && !retryAfterMs; e = (e as { cause?: unknown }).cause) {
    if (e instanceof TransientError) retryAfterMs = e.retryAfterMs;
  }
  const retryAfterSeconds = retryAfterMs ? Math.max(1, Math.ceil(retryAfterMs / 1000)) : DEFAULT_RETRY_AFTER_SECONDS;
  return {
    message: 'A service this request needs is unavailable; try again later',
    ...(path ? { path } : {}),
    extensions: { code: ErrorCode.ServiceUnavailable, retryAfterSeconds },
  };
}

/**
 * Client-caused errors pass through; infrastructure failures (`isTransientError`: database, Redis, NATS, another
 * subgraph down or slow) become SERVICE_UNAVAILABLE with `retryAfterSeconds`, logged as warnings; anything else is
 * a bug: logged and, in production, masked.
 */
export function errorFormatter(logger: Logger, production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && CLIENT_CODES.has(code)) return formatted;
    const original = unwrapResolverError(error);
    if (isTransientError(original)) {
      logger.warn({ err: original, path: formatted.path }, 'dependency unavailable');
      return unavailableError(original, formatted.path);
    }
    logger.error({ err: original, path: formatted.path }, 'internal error');
    if (!production) return formatted;
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

export interface SubgraphRequestInfo {
  identity: Identity | null;
  /** The calling subgraph when another service signed the request (internal fields), else null. */
  service: string | null;
  req: IncomingMessage;
}

/** Where startSubgraphServer records, on each request's context, which service (if any) signed it. */
const CALLING_SERVICE = Symbol('calling service');
type Marked = { [CALLING_SERVICE]?: string | null };

type Directed = { astNode?: { directives?: readonly { name: { value: string } }[] } | null } | null | undefined;
const isInaccessible = (node: Directed) =>
  node?.astNode?.directives?.some((d) => d.name.value === 'inaccessible') ?? false;

interface FieldLike {
  name: string;
  type: unknown;
  astNode?: NonNullable<Directed>['astNode'];
}
interface CompositeLike {
  name: string;
  getFields(): Record<string, FieldLike>;
}
const namedType = (type: unknown): unknown => {
  let t = type as { ofType?: unknown } | null;
  while (t && t.ofType) t = t.ofType as { ofType?: unknown };
  return t;
};
const hasFields = (type: unknown): type is CompositeLike =>
  !!type && typeof (type as { getFields?: unknown }).getFields === 'function';

/**
 * The first field of the operation that is `@inaccessible` (or returns an `@inaccessible` type), if any. It walks
 * the schema by property access only: the subgraph schema is built by @apollo/subgraph's copy of graphql, which
 * TypeInfo from this module's copy would not accept.
 */
export function findInternalField(schema: GraphQLSchema, document: DocumentNode): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const seen = new Set<string>();
  const walk = (parent: unknown, selections: readonly SelectionNode[]): string | undefined => {
    for (const sel of selections) {
      if (sel.kind === Kind.FIELD) {
        const field = hasFields(parent) ? parent.getFields()[sel.name.value] : undefined;
        if (!field) continue;
        const type = namedType(field.type);
        if (isInaccessible(field as Directed) || isInaccessible(type as Directed)) return field.name;
        const found = sel.selectionSet && walk(type, sel.selectionSet.selections);
        if (found) return found;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        const found = walk(type, sel.selectionSet.selections);
        if (found) return found;
      } else {
        const fragment = fragments.get(sel.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        seen.add(fragment.name.value);
        const found = walk(schema.getType(fragment.typeCondition.name.value), fragment.selectionSet.selections);
        if (found) return found;
      }
    }
    return undefined;
  };
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const root =
      d.operation === 'query'
        ? schema.getQueryType()
        : d.operation === 'mutation'
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    const found = walk(root, d.selectionSet.selections);
    if (found) return found;
  }
  return undefined;
}

/**
 * Internal fields (kept out of the public supergraph with `@inaccessible`) answer only to a service identity:
 * the gateway signs users and anonymous clients, never services, so a client cannot reach them through it, and
 * a header captured from the gateway cannot be used for them either.
 */
function internalFieldsGuard(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, schema, contextValue }) {
          if ((contextValue as Marked)[CALLING_SERVICE]) return;
          const field = findInternalField(schema, document);
          if (field) {
            throw new GraphQLError(`"${field}" is internal and answers only to services`, {
              extensions: { code: 'FORBIDDEN', http: { status: 403 } },
            });
          }
        },
      };
    },
  };
}

export interface SubgraphServerOptions<TContext extends BaseContext> {
  name: string;
  schema: GraphQLSchema;
  host: string;
  port: number;
  signingSecret: string;
  maxSkewSeconds: number;
  production: boolean;
  logger: Logger;
  readiness: ReadinessChecks;
  /** How long in-flight requests may take to finish on stop before their connections are cut. */
  drainMs?: number;
  context: (info: SubgraphRequestInfo) => TContext | Promise<TContext>;
  /** Runs after HTTP has drained: close pools and connections here. */
  onStop?: () => Promise<void>;
}

export interface RunningServer {
  url: string;
  port: number;
  httpServer: Server;
  stop(): Promise<void>;
}

/**
 * The shape every subgraph shares: /graphql behind the gateway signature (401 without it), /healthz
 * (process up), /readyz (dependencies reachable), /metrics (Prometheus), graceful drain.
 */
export async function startSubgraphServer<TContext extends BaseContext>(
  options: SubgraphServerOptions<TContext>,
): Promise<RunningServer> {
  const { logger } = options;
  setCursorSecret(options.signingSecret);
  const httpServer = createServer();
  const apollo = new ApolloServer<TContext>({
    schema: options.schema,
    plugins: [
      ApolloServerPluginDrainHttpServer({
        httpServer,
        stopGracePeriodMillis: options.drainMs ?? httpDrainMs(DEFAULT_SHUTDOWN_GRACE_MS),
      }),
      // Defaults a subgraph behind our gateway has no use for (ADR 19): the cache-control plugin wraps every
      // resolver to compute a policy nobody reads (the gateway sets no Cache-Control from subgraphs), and the
      // federated trace, usage/schema reporting and landing page serve Apollo's hosted tools, not this API.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      internalFieldsGuard() as ApolloServerPlugin<TContext>,
      graphqlMetricsPlugin(options.name),
    ],
    formatError: errorFormatter(logger, options.production),
    includeStacktraceInErrorResponses: !options.production,
    // Draining is ours (onShutdown / the embedded launcher); Apollo's own signal handlers would race it.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    // Subgraphs are not reachable from outside (ADR 3): their metrics are served next to /healthz.
    if (path === '/metrics') return serveMetrics(req, res);
    if (path === '/readyz') {
      const result = await checkReadiness(options.readiness);
      return sendJson(res, result.ok ? 200 : 503, result);
    }
    if (path !== '/graphql') return sendJson(res, 404, { error: 'not found' });
    const header = req.headers[IDENTITY_HEADER];
    const clientIp = req.headers[CLIENT_IP_HEADER];
    // The signature covers the body, so it is read before anything else looks at the request.
    const body = req.method === 'POST' ? await readBody(req) : '';
    const verified = verifyIdentity(
      options.signingSecret,
      Array.isArray(header) ? header[0] : header,
      {
        audience: options.name,
        path: req.url ?? '/',
        body,
        clientIp: Array.isArray(clientIp) ? clientIp.join(', ') : clientIp,
      },
      options.maxSkewSeconds,
    );
    if (!verified.ok) {
      return sendJson(res, 401, {
        errors: [{ message: `Unauthorized: ${verified.reason}`, extensions: { code: 'UNAUTHENTICATED' } }],
      });
    }
    const { identity, service } = verified;
    await inRequestScope(options.name, req, res, () =>
      handleGraphQL(
        apollo,
        req,
        res,
        async () => Object.assign(await options.context({ identity, service, req }), { [CALLING_SERVICE]: service }),
        body,
      ),
    );
  };

  serveRoutes(httpServer, route, logger);
  const { url, port } = await listen(httpServer, options.host, options.port);
  logger.info({ url }, `${options.name} subgraph ready`);

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    httpServer,
    stop: () =>
      (stopping ??= (async () => {
        await apollo.stop();
        await options.onStop?.();
      })()),
  };
}
