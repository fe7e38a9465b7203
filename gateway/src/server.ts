import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { Agent } from 'undici';
import {
  checkReadiness,
  errorFormatter,
  handleGraphQL,
  listen,
  sendJson,
  serveRoutes,
  type KeyValueStore,
  type Logger,
} from '@insta/infra';
import { authenticate } from './auth.ts';
import { subgraphUrls, type GatewayConfig } from './config.ts';
import type { GatewayContext } from './context.ts';
import { loadExplorer, type Explorer } from './explorer.ts';
import { formatOperationLimitError, operationLimitRules } from './operation-limits.ts';
import { SubgraphDataSource, createUndiciFetcher } from './subgraph-data-source.ts';

export { loadGatewayConfig, type GatewayConfig } from './config.ts';
export { operationLimitRules, parseWithLimits } from './operation-limits.ts';

export interface GatewayServerOptions {
  config: GatewayConfig;
  /** Connected store; the gateway reads revoked sessions from it and does not close it. */
  kv: KeyValueStore;
  logger: Logger;
}

export interface GatewayServer {
  url: string;
  httpServer: Server;
  stop(): Promise<void>;
}

export async function createGatewayServer({ config, kv, logger }: GatewayServerOptions): Promise<GatewayServer> {
  const production = config.NODE_ENV === 'production';
  const supergraphSdl = await readFile(config.SUPERGRAPH_PATH, 'utf8');
  const explorer: Explorer | null = config.EXPLORER ? await loadExplorer() : null;

  const urls = subgraphUrls(config);
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
  const fetcher = createUndiciFetcher(agent);
  const gateway = new ApolloGateway({
    supergraphSdl,
    logger,
    buildService: ({ name, url }) => {
      const target = urls[name] ?? url;
      if (!target) throw new Error(`No URL for subgraph "${name}"`);
      return new SubgraphDataSource(target, fetcher, config.GATEWAY_SIGNING_SECRET);
    },
  });

  const httpServer = createServer();
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    // index.ts owns the signals (onShutdown); Apollo's own SIGTERM handler would race it and re-raise the signal.
    stopOnTerminationSignals: false,
    introspection: config.INTROSPECTION,
    hideSchemaDetailsFromClientErrors: production,
    includeStacktraceInErrorResponses: !production,
    validationRules: operationLimitRules(config),
    parseOptions: { maxTokens: config.MAX_TOKENS },
    formatError: (formatted, error) =>
      errorFormatter(logger, production)(formatOperationLimitError(formatted, error), error),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.SHUTDOWN_GRACE_MS }),
      // The gateway serves its own explorer (below); these defaults only cost time per request.
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (explorer?.handle(req, res, path)) return;
    if (path === '/graphql') {
      await handleGraphQL(apollo, req, res, async () => ({
        identity: await authenticate(req.headers, config.JWT_SECRET, kv),
        clientHeaders: req.headers,
      }));
      return;
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const result = await checkReadiness({ kv: () => kv.ping() });
      return sendJson(res, result.ok ? 200 : 503, result);
    }
    sendJson(res, 404, { error: 'not found' });
  };

  serveRoutes(httpServer, route, logger);
  const { url } = await listen(httpServer, config.HOST, config.PORT);
  logger.info({ url, explorer: Boolean(explorer) }, 'gateway ready');

  let stopping: Promise<void> | undefined;
  return {
    url,
    httpServer,
    // Apollo's drain plugin stops accepting, waits for in-flight requests (up to SHUTDOWN_GRACE_MS), then
    // Apollo stops the gateway; the subgraph connections go last.
    stop: () =>
      (stopping ??= (async () => {
        await apollo.stop();
        await agent.close();
      })()),
  };
}
