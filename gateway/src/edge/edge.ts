import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { CLIENT_IP_HEADER, type KeyValueStore, type Logger } from '@insta/infra';
import type { GatewayConfig } from '../config.ts';
import type { ClientInfo, GatewayContext } from '../context.ts';
import { TrustedDocuments } from '../documents/trusted-documents.ts';
import { clientIpResolver } from '../http/client-ip.ts';
import { corsPolicy } from '../http/cors.ts';
import { inputHygienePlugin, withoutSuggestions } from '../input/input-hygiene.ts';
import { costLimitPlugin } from '../limits/cost.ts';
import { RateLimiter, rateLimitPlugin } from '../limits/rate-limit.ts';
import { createSocketGuard, type SocketGuard } from './socket-guard.ts';

/**
 * The gateway's edge (ADR 12), composed from its capabilities for `server.ts`: what Apollo Server gets (plugins,
 * the persisted-query store, the error formatting), what each HTTP request goes through (CORS, the client
 * address), and the websocket guard.
 */
export interface Edge {
  plugins: ApolloServerPlugin<GatewayContext>[];
  /** Apollo Server's `persistedQueries`: the trusted documents when enforced, else its default APQ store. */
  persistedQueries: ReturnType<TrustedDocuments['persistedQueries']> | undefined;
  /** Applied last to every formatted error: no "Did you mean" in production. */
  formatError(formatted: GraphQLFormattedError): GraphQLFormattedError;
  /** CORS on one HTTP request; true when it was answered (preflight or refusal). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The context fields of a client request: who sent it, and the headers passed to subgraphs. */
  clientContext(req: IncomingMessage): { client: ClientInfo; clientHeaders: IncomingHttpHeaders };
  /** The same, for an operation sent over a websocket. */
  socketContext(client: ClientInfo): { client: ClientInfo; clientHeaders: IncomingHttpHeaders };
  socketGuard(schema: () => GraphQLSchema): SocketGuard;
}

export async function createEdge(
  config: GatewayConfig,
  kv: Pick<KeyValueStore, 'takeTokens'>,
  logger: Logger,
): Promise<Edge> {
  const cors = corsPolicy(config);
  const clientIp = clientIpResolver(config.TRUSTED_PROXIES);
  const rateLimiter = config.RATE_LIMITS ? new RateLimiter(kv, config, logger) : null;
  const trustedDocuments = config.TRUSTED_DOCUMENTS_PATH
    ? await TrustedDocuments.load(config.TRUSTED_DOCUMENTS_PATH)
    : null;
  const production = config.NODE_ENV === 'production';
  return {
    plugins: [
      ...(trustedDocuments ? [trustedDocuments.plugin()] : []),
      inputHygienePlugin(),
      costLimitPlugin(config),
      ...(rateLimiter ? [rateLimitPlugin(rateLimiter)] : []),
    ],
    persistedQueries: trustedDocuments?.persistedQueries(),
    formatError: (formatted) => (production ? withoutSuggestions(formatted) : formatted),
    handle: (req, res) => cors.handle(req, res),
    clientContext: (req) => {
      const client = { ip: clientIp(req) };
      // The gateway's resolved address replaces any x-client-ip a client sent.
      return { client, clientHeaders: { ...req.headers, [CLIENT_IP_HEADER]: client.ip } };
    },
    socketContext: (client) => ({ client, clientHeaders: { [CLIENT_IP_HEADER]: client.ip } }),
    socketGuard: (schema) =>
      createSocketGuard({ cors, clientIp, limits: config, schema, rateLimiter, trustedDocuments }),
  };
}
