import { createServer } from 'node:http';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import {
  listen,
  sendJson,
  serveMetrics,
  serveRoutes,
  subgraphFetchDuration,
  withClientSpan,
  type Logger,
} from '@insta/infra';

type Fetcher = RemoteGraphQLDataSource['fetcher'];

/**
 * The duration of every fetch from one subgraph (all attempts, as the query plan waits for it), by outcome, and
 * its client span, whose `traceparent` the subgraph receives.
 */
export function timedFetcher(fetcher: Fetcher, subgraph: string): Fetcher {
  return (url, init = {}) =>
    withClientSpan(`fetch ${subgraph}`, { subgraph }, async (trace) => {
      const end = subgraphFetchDuration.startTimer({ subgraph });
      try {
        // No tracer provider, no `traceparent`: the request goes as it came.
        const traced = Object.keys(trace).length === 0 ? init : { ...init, headers: withHeaders(init.headers, trace) };
        const response = await fetcher(url, traced);
        end({ outcome: response.status >= 500 ? 'error' : 'ok' });
        return response;
      } catch (error) {
        end({ outcome: 'error' });
        throw error;
      }
    });
}

type FetcherHeaders = NonNullable<Parameters<Fetcher>[1]>['headers'];

/** Apollo hands the fetcher a Headers object (its typings say a record): add to whichever it is. */
function withHeaders(headers: FetcherHeaders, extra: Record<string, string>): FetcherHeaders {
  const target = headers as unknown as { set?: (name: string, value: string) => void } | undefined;
  if (typeof target?.set !== 'function') return { ...headers, ...extra };
  for (const [name, value] of Object.entries(extra)) target.set(name, value);
  return headers;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `GET /metrics` on a port of its own, so the public listener never serves it: publish only the gateway's PORT,
 * and let Prometheus reach METRICS_PORT on the internal network (ADR 14).
 */
export async function startMetricsServer(host: string, port: number, logger: Logger): Promise<MetricsServer> {
  const server = createServer();
  serveRoutes(
    server,
    async (req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) return serveMetrics(req, res);
      sendJson(res, 404, { error: 'not found' });
    },
    logger,
  );
  const address = await listen(server, host, port);
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
