import type { IncomingMessage } from 'node:http';
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { Identity } from '@insta/infra';
import type { ClientInfo } from '../context.ts';
import type { TrustedDocuments } from '../documents/trusted-documents.ts';
import { graphql } from '../graphql-runtime.ts';
import type { CorsPolicy } from '../http/cors.ts';
import { checkInputText } from '../input/input-hygiene.ts';
import { checkOperationCost, type CostLimit } from '../limits/cost.ts';
import { rateLimitedError, type RateLimiter } from '../limits/rate-limit.ts';

export interface SocketOperation {
  query: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
  identity: Identity | null;
  client: ClientInfo;
}

/**
 * The edge checks of HTTP, for websockets: the Origin allowlist on upgrade, the client address, and per
 * operation trusted documents, input text, cost and (for subscriptions, which do not pass through Apollo Server
 * and its plugins) the rate limit. Each check throws the typed GraphQLError HTTP would answer.
 */
export interface SocketGuard {
  allowsUpgrade(req: IncomingMessage): boolean;
  client(req: IncomingMessage): ClientInfo;
  check(operation: SocketOperation): Promise<void>;
}

export interface SocketGuardOptions {
  cors: CorsPolicy;
  clientIp: (req: IncomingMessage) => string;
  limits: CostLimit;
  schema: () => GraphQLSchema;
  rateLimiter: RateLimiter | null;
  trustedDocuments: TrustedDocuments | null;
}

export function createSocketGuard(options: SocketGuardOptions): SocketGuard {
  return {
    allowsUpgrade: (req) => options.cors.allows(req.headers.origin, req.headers),
    client: (req) => ({ ip: options.clientIp(req) }),
    async check({ query, document, operation, variables, identity, client }) {
      options.trustedDocuments?.check(query);
      checkInputText(document, variables);
      checkOperationCost(options.limits, options.schema(), document, operation, variables);
      if (!options.rateLimiter || operation.operation !== graphql.OperationTypeNode.SUBSCRIPTION) return;
      const decision = await options.rateLimiter.take('read', identity, client);
      if (decision && !decision.result.allowed) throw rateLimitedError(decision);
    },
  };
}
