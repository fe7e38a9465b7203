import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError } from 'graphql';
import { Agent } from 'undici';
import {
  checkReadiness,
  createInternalClient,
  errorFormatter,
  graphqlMetricsPlugin,
  handleGraphQL,
  httpDrainMs,
  inRequestScope,
  listen,
  readBody,
  sendJson,
  serveRoutes,
  type CallPolicy,
  type EventBus,
  type Identity,
  type KeyValueStore,
  type Logger,
} from '@insta/infra';
import { authenticate } from './auth.ts';
import { EntityCache } from './cache/entity-cache.ts';
import type { EntityCacheStore } from './cache/entity-cache-store.ts';
import { REALTIME_SUBGRAPH } from './compose.ts';
import { subgraphUrls, type GatewayConfig } from './config.ts';
import type { ClientInfo, GatewayContext } from './context.ts';
import { createEdge } from './edge/edge.ts';
import { LiveConnections } from './edge/live-connections.ts';
import { httpSubscriptions, subscriptionTransportPlugin } from './http/http-subscriptions.ts';
import { loadExplorer, type Explorer } from './explorer.ts';
import { loadWebApp, WEB_APP_PREFIX } from './web-app.ts';
import { formatOperationLimitError, operationLimitRules } from './operation-limits.ts';
import { RealtimeDataSource, loadRealtimeSchema } from './realtime/realtime-subgraph.ts';
import { SubscriptionService } from './realtime/subscriptions.ts';
import { postAudienceClient } from './realtime/post-audience.ts';
import { subgraphHealthCheck } from './resilience/subgraph-health.ts';
import { subgraphPolicy } from './resilience/subgraph-policy.ts';
import { unavailableStatusPlugin } from './resilience/unavailable-status.ts';
import { listenToRevocations } from './revocation/revocation-events.ts';
import { RevocationList, usersRevocationSource, type RevocationSource } from './revocation/revocation-list.ts';
import { SingleFetchPath } from './execution/single-fetch.ts';
import { SubgraphDataSource, createUndiciFetcher } from './subgraph-data-source.ts';
import { startMetricsServer, timedFetcher, type MetricsServer } from './metrics/metrics.ts';
import { startWebSocketServer, type OperationRequest } from './websocket.ts';

export { loadGatewayConfig, type GatewayConfig } from './config.ts';
export { operationLimitRules, parseWithLimits } from './operation-limits.ts';
export { SUBSCRIPTION_QUEUE_OVERFLOW } from './realtime/subscriptions.ts';
export { RedisEntityCacheStore, type EntityCacheStore } from './cache/entity-cache-store.ts';

export interface GatewayServerOptions {
  config: GatewayConfig;
  /** Connected store; the gateway reads revoked sessions from it and does not close it. */
  kv: KeyValueStore;
  /** Connected bus; subscriptions listen to the subgraphs' events on it. The gateway does not close it. */
  bus: EventBus;
  logger: Logger;
  /** Where durable revocations come from; the users subgraph's internal `sessionRevocations` by default. */
  revocationSource?: RevocationSource;
  /** The entity cache's shared tier (Redis, shared by every gateway instance); without it, in-process only. */
  entityCacheStore?: EntityCacheStore;
}

export interface GatewayServer {
  url: string;
  /** Where the web client is served (null when web/dist is not built). */
  webAppUrl: string | null;
  httpServer: Server;
  /** `GET /metrics` (Prometheus) when METRICS_PORT is set, else null. */
  metricsUrl: string | null;
  /** GraphQL subscriptions open (over websockets and HTTP) and listening for events. */
  openSubscriptions(): number;
  /** Realtime connections (websockets, HTTP subscription streams) counted by the per-user / per-address caps. */
  openConnections(): number;
  stop(): Promise<void>;
}

export async function createGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const { config, kv, bus, logger } = options;
  const production = config.NODE_ENV === 'production';
  const supergraphSdl = await readFile(config.SUPERGRAPH_PATH, 'utf8');
  const explorer: Explorer | null = config.EXPLORER ? await loadExplorer() : null;
  const edge = await createEdge(config, kv, logger);
  const webApp = config.WEB_APP_DIR ? await loadWebApp(config.WEB_APP_DIR) : null;

  const urls = subgraphUrls(config);
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
  const fetcher = createUndiciFetcher(agent);
  const subgraphs = new Map<string, { url: string; policy: CallPolicy }>();
  const usersInternal = createInternalClient(config.USERS_URL, config.GATEWAY_SIGNING_SECRET, {
    from: 'gateway',
    to: 'users',
    policy: subgraphPolicy(config, 'users', logger).settings,
    logger,
  });
  // Realtime connections follow their session (ADR 16): a revocation heard on the bus, or found by a sync, closes them.
  const live = new LiveConnections(config);
  // Per-event authorization of subscriptions, batched for all viewers of an event (ADR 15).
  const postsInternal = createInternalClient(config.POSTS_URL, config.GATEWAY_SIGNING_SECRET, {
    from: 'gateway',
    to: 'posts',
    policy: subgraphPolicy(config, 'posts', logger).settings,
    logger,
  });
  const revocations = new RevocationList({
    source: options.revocationSource ?? usersRevocationSource(usersInternal),
    kv,
    intervalMs: config.REVOCATION_SYNC_INTERVAL_MS,
    maxStalenessMs: config.REVOCATION_MAX_STALENESS_MS,
    logger,
    onRevoked: (sessionId) => live.revokeSession(sessionId),
  });
  const revocationEvents = await listenToRevocations({
    bus,
    logger,
    onRevoked: (sessionId, expiresAt) => {
      revocations.add(sessionId, expiresAt);
      live.revokeSession(sessionId);
    },
    onMissed: () => void revocations.sync(),
  });
  await revocations.start();
  const isRevoked = (sessionId: string) => revocations.isRevoked(sessionId);
  const entityCache = config.ENTITY_CACHE
    ? new EntityCache({
        store: options.entityCacheStore ?? null,
        l1Entries: config.ENTITY_CACHE_L1_ENTRIES,
        maxTtlMs: config.ENTITY_CACHE_MAX_TTL_MS,
        generationTtlMs: config.ENTITY_CACHE_GENERATION_TTL_MS,
        storeTimeoutMs: config.ENTITY_CACHE_REDIS_TIMEOUT_MS,
        logger,
      })
    : null;
  await entityCache?.listen(bus);
  const readPath = { entityCache, dedupe: config.SUBGRAPH_DEDUPE === 'on' };
  const realtimeSchema = await loadRealtimeSchema();
  // The subscription service executes its query plans on the same data sources as the gateway.
  const dataSources = new Map<string, GraphQLDataSource<GatewayContext>>();
  const singleFetch = config.SINGLE_FETCH_FAST_PATH === 'on' ? new SingleFetchPath() : null;
  const gateway = new ApolloGateway({
    supergraphSdl,
    logger,
    ...(singleFetch && { experimental_didResolveQueryPlan: singleFetch.onPlan }),
    buildService: ({ name, url }) => {
      let dataSource: GraphQLDataSource<GatewayContext>;
      if (name === REALTIME_SUBGRAPH.name) dataSource = new RealtimeDataSource(realtimeSchema);
      else {
        const target = urls[name] ?? url;
        if (!target) throw new Error(`No URL for subgraph "${name}"`);
        const policy = subgraphPolicy(config, name, logger);
        subgraphs.set(name, { url: target, policy });
        dataSource = new SubgraphDataSource(
          name,
          target,
          timedFetcher(fetcher, name),
          config.GATEWAY_SIGNING_SECRET,
          policy,
          readPath,
        );
      }
      dataSources.set(name, dataSource);
      return dataSource;
    },
  });

  const formatError = (formatted: GraphQLFormattedError, error: unknown) =>
    edge.formatError(errorFormatter(logger, production)(formatOperationLimitError(formatted, error), error));
  const httpServer = createServer();
  const apollo = new ApolloServer<GatewayContext>({
    gateway: singleFetch ? singleFetch.wrap(gateway) : gateway,
    // index.ts owns the signals (onShutdown); Apollo's own SIGTERM handler would race it and re-raise the signal.
    stopOnTerminationSignals: false,
    introspection: config.INTROSPECTION,
    hideSchemaDetailsFromClientErrors: production,
    includeStacktraceInErrorResponses: !production,
    validationRules: operationLimitRules(config),
    parseOptions: { maxTokens: config.MAX_TOKENS },
    persistedQueries: edge.persistedQueries,
    formatError,
    plugins: [
      graphqlMetricsPlugin('gateway'),
      ...edge.plugins,
      subscriptionTransportPlugin(),
      unavailableStatusPlugin(),
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: httpDrainMs(config.SHUTDOWN_GRACE_MS) }),
      // The gateway serves its own explorer (below); these defaults only cost time per request.
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();

  const executeOperation = async (
    { query, variables, operationName }: OperationRequest,
    identity: Identity | null,
    client?: ClientInfo,
  ) => {
    const response = await apollo.executeOperation(
      { query, variables, operationName: operationName ?? undefined },
      { contextValue: { identity, ...(client && edge.socketContext(client)) } },
    );
    if (response.body.kind !== 'single') throw new Error('Incremental delivery is not supported here');
    return response.body.singleResult;
  };
  const subscriptions = new SubscriptionService(realtimeSchema, {
    supergraphSdl,
    bus,
    dataSources,
    queueSize: config.SUBSCRIPTION_QUEUE_SIZE,
    ...(entityCache && { beforeDeliver: (subject, event) => entityCache.invalidateForEvent(subject, event) }),
    logger,
    signedOut: (sessionIds) => revocations.revokedAmong(sessionIds),
    postAudience: postAudienceClient(postsInternal),
  });
  const guard = edge.socketGuard(() => subscriptions.apiSchema);
  const websockets = startWebSocketServer({
    httpServer,
    config,
    isRevoked,
    subscriptions,
    executeOperation,
    formatError,
    guard,
    live,
  });
  const trusted = edge.persistedQueries;
  const overHttp = httpSubscriptions({
    ...{ config, subscriptions, guard, live, isRevoked, formatError },
    // Apollo Server keys persisted documents `apq:<sha256>`; only the trusted documents are readable here.
    ...(trusted && { persistedDocument: async (hash: string) => trusted.cache.get(`apq:${hash}`) }),
  });
  const subgraphsReachable = subgraphHealthCheck(subgraphs);

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (edge.handle(req, res)) return;
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (explorer?.handle(req, res, path)) return;
    if (webApp?.handle(req, res, path)) return;
    if (path === '/graphql') {
      // The request id (sanitised) reaches the subgraphs with the forwarded headers.
      await inRequestScope('gateway', req, res, async () => {
        const rawBody = req.method === 'POST' ? await readBody(req) : undefined;
        // Subscriptions (multipart HTTP, or a 406 naming the transports) never reach Apollo Server.
        if (await overHttp.handle(req, res, rawBody)) return;
        await handleGraphQL(
          apollo,
          req,
          res,
          async () => ({
            identity: await authenticate(req.headers, config.JWT_SECRET, isRevoked),
            ...edge.clientContext(req),
          }),
          rawBody,
        );
      });
      return;
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const result = await checkReadiness({
        redis: () => kv.ping(),
        nats: () => bus.ping(),
        revocations: () => revocations.ready(),
        subgraphs: subgraphsReachable,
      });
      return sendJson(res, result.ok ? 200 : 503, result);
    }
    sendJson(res, 404, { error: 'not found' });
  };

  serveRoutes(httpServer, route, logger);
  const { url } = await listen(httpServer, config.HOST, config.PORT);
  const metrics: MetricsServer | null =
    config.METRICS_PORT === undefined ? null : await startMetricsServer(config.HOST, config.METRICS_PORT, logger);
  logger.info({ url, explorer: Boolean(explorer), webApp: Boolean(webApp), metrics: metrics?.url }, 'gateway ready');

  let stopping: Promise<void> | undefined;
  return {
    url,
    webAppUrl: webApp ? new URL(`${WEB_APP_PREFIX}/`, url).toString() : null,
    httpServer,
    metricsUrl: metrics?.url ?? null,
    openSubscriptions: () => subscriptions.size,
    openConnections: () => live.size,
    // Websockets first (graphql-ws closes each with 1001 Going Away, ending its subscriptions), then Apollo's
    // drain plugin stops accepting, waits for in-flight requests (up to httpDrainMs(SHUTDOWN_GRACE_MS)) and Apollo stops the
    // gateway; the subgraph connections go last.
    stop: () =>
      (stopping ??= (async () => {
        revocationEvents.stop();
        await websockets.dispose();
        subscriptions.stop();
        live.stop();
        revocations.stop();
        entityCache?.stop();
        await apollo.stop();
        await agent.close();
        await usersInternal.close();
        await postsInternal.close();
        await metrics?.close();
      })()),
  };
}
