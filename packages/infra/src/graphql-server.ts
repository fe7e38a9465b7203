import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { ErrorCode } from './errors.ts';
import { TransientError, isTransientError } from './failures.ts';
import { handleGraphQL, listen, sendJson, serveRoutes } from './http.ts';
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
  req: IncomingMessage;
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
      ApolloServerPluginInlineTraceDisabled(),
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
    const verified = verifyIdentity(
      options.signingSecret,
      Array.isArray(header) ? header[0] : header,
      options.maxSkewSeconds,
    );
    if (!verified.ok) {
      return sendJson(res, 401, {
        errors: [{ message: `Unauthorized: ${verified.reason}`, extensions: { code: 'UNAUTHENTICATED' } }],
      });
    }
    await inRequestScope(options.name, req, res, () =>
      handleGraphQL(apollo, req, res, async () => options.context({ identity: verified.identity, req })),
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
