import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import type { Logger } from './logger.ts';

const MAX_BODY_BYTES = 1_000_000;

/**
 * Header the gateway sets on every subgraph request to the client address it resolved through its trusted
 * proxies (overwriting any a client sent); the users subgraph keys its sign-in limits by it.
 */
export const CLIENT_IP_HEADER = 'x-client-ip';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(payload);
}

/**
 * The query string of a request target as `URL#search` gives it, for Apollo Server's URLSearchParams (which decodes
 * alike what URL would have percent-encoded): without a URL object per request.
 */
export function searchOf(target: string): string {
  const hash = target.indexOf('#');
  const path = hash < 0 ? target : target.slice(0, hash);
  const queryAt = path.indexOf('?');
  return queryAt < 0 || queryAt === path.length - 1 ? '' : path.slice(queryAt);
}

/**
 * Hands one Node HTTP request to Apollo Server (no framework in between: the gateway and every subgraph use
 * this). The caller decides routing and builds the context.
 */
export async function handleGraphQL<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  req: IncomingMessage,
  res: ServerResponse,
  context: () => Promise<TContext>,
  /** The body when the caller has read it already (to check a signature over it). */
  rawBody?: string,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const search = searchOf(req.url ?? '/');
  let body: unknown;
  if (req.method === 'POST') {
    const raw = rawBody ?? (await readBody(req));
    const contentType = headers.get('content-type') ?? '';
    if (contentType.startsWith('application/json') || contentType.includes('+json')) {
      try {
        body = raw.length ? JSON.parse(raw) : undefined;
      } catch {
        sendJson(res, 400, { errors: [{ message: 'Malformed JSON body', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
    } else {
      body = raw;
    }
  }
  const result = await server.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body },
    context,
  });
  for (const [name, value] of result.headers) res.setHeader(name, value);
  res.statusCode = result.status ?? 200;
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) res.write(chunk);
  res.end();
}

/**
 * Routes every request of `httpServer` through `route`; an HttpError becomes its status, anything else a logged
 * 500. Keep-alive outlasts the usual load-balancer idle timeout, so the balancer closes idle connections first.
 */
export function serveRoutes(
  httpServer: Server,
  route: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  logger: Logger,
): void {
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendJson(res, error.status, { error: error.message });
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  httpServer.keepAliveTimeout = 65_000;
}

/** Starts listening and resolves with the GraphQL URL (the real port when `port` is 0). */
export async function listen(httpServer: Server, host: string, port: number): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, () => resolve());
  });
  const address = httpServer.address() as AddressInfo;
  return { url: `http://${host}:${address.port}/graphql`, port: address.port };
}
