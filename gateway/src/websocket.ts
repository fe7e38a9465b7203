import type { Server } from 'node:http';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type {
  DocumentNode,
  ExecutionResult,
  FormattedExecutionResult,
  GraphQLError,
  GraphQLFormattedError,
} from 'graphql';
import { ErrorCode, websocketConnections, type Identity } from '@insta/infra';
import { authenticate } from './auth.ts';
import type { GatewayConfig } from './config.ts';
import type { ClientInfo } from './context.ts';
import type { SocketGuard } from './edge/socket-guard.ts';
import { graphql } from './graphql-runtime.ts';
import { operationLimitRules, parseWithLimits } from './operation-limits.ts';
import { EventQueue } from './realtime/event-queue.ts';
import type { SubscriptionService } from './realtime/subscriptions.ts';

/** A graphql-ws message larger than this closes the socket (1009); MAX_TOKENS bounds what is parsed. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** WebSocket close code "Try Again Later" (RFC 6455 registry): a dependency of authentication is unavailable. */
export const TRY_AGAIN_LATER = 1013;
const DID_YOU_MEAN = / ?Did you mean(.+?)\?$/;
/** Parsed and validated operations kept by their text (cleared when full). */
const MAX_VALID_DOCUMENTS = 1_000;

export interface OperationRequest {
  query: string;
  variables: Record<string, unknown>;
  operationName: string | null;
}

export interface WebSocketServerOptions {
  httpServer: Server;
  config: GatewayConfig;
  /** Whether a session was signed out (the gateway's revocation list); rejects when that cannot be known. */
  isRevoked(sessionId: string): Promise<boolean>;
  subscriptions: SubscriptionService;
  /** Queries and mutations sent over a socket run through Apollo Server, exactly as on HTTP. */
  executeOperation(
    request: OperationRequest,
    identity: Identity | null,
    client: ClientInfo,
  ): Promise<FormattedExecutionResult>;
  /** Origin allowlist, client address, and the edge checks on every operation (trusted documents, cost…). */
  guard: SocketGuard;
  /** The gateway's error formatter (masks internal errors in production), applied to every `next` payload. */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
}

interface ConnectionExtra extends Record<PropertyKey, unknown> {
  /** Who opened the connection (`connectionParams.authorization`), null when anonymous. */
  identity: Identity | null;
  client: ClientInfo;
}

interface OperationContext {
  identity: Identity | null;
  client: ClientInfo;
  request: OperationRequest;
  subscription?: EventQueue<ExecutionResult>;
}

type ErrorLike = { message: string; extensions?: Record<string, unknown> };

/**
 * graphql-ws errors must be this process's graphql-js GraphQLError (it checks `instanceof`); validation and
 * limit errors keep their code, others get the code Apollo Server gives the same failure on HTTP.
 */
function toGraphQLError(error: unknown, fallbackCode: string) {
  const { message, extensions } = error instanceof Error ? (error as ErrorLike) : { message: String(error) };
  const { http: _http, ...rest } = extensions ?? {};
  return new graphql.GraphQLError(message, { extensions: { ...rest, code: extensions?.code ?? fallbackCode } });
}

/**
 * graphql-ws (`graphql-transport-ws`) on the gateway's HTTP server and path. Authentication happens once, on
 * `connection_init`: a bad token closes the socket with 4403 Forbidden and the reason; no token means an
 * anonymous connection. Every operation is parsed and validated with the same limits as HTTP before it runs.
 */
export function startWebSocketServer(options: WebSocketServerOptions) {
  const { config, subscriptions } = options;
  const production = config.NODE_ENV === 'production';
  const rules = [...graphql.specifiedRules, ...operationLimitRules(config)];
  const wss = new WebSocketServer({
    server: options.httpServer,
    path: '/graphql',
    maxPayload: MAX_MESSAGE_BYTES,
    // A browser socket from an origin outside the CORS allowlist is refused before the upgrade.
    verifyClient: ({ req }, done) =>
      options.guard.allowsUpgrade(req) ? done(true) : done(false, 403, 'Origin not allowed'),
  });

  // Valid documents by text: the same operation on thousands of sockets is parsed and validated once, and they
  // share one AST instead of a copy each (memory per idle subscription, ADR 15).
  const valid = new Map<string, DocumentNode>();
  const validate = (query: string): DocumentNode | ReturnType<typeof toGraphQLError>[] => {
    const cached = valid.get(query);
    if (cached) return cached;
    const checked = parseAndValidate(query);
    if (Array.isArray(checked)) return checked;
    if (valid.size >= MAX_VALID_DOCUMENTS) valid.clear();
    valid.set(query, checked);
    return checked;
  };
  const parseAndValidate = (query: string): DocumentNode | ReturnType<typeof toGraphQLError>[] => {
    let document: DocumentNode;
    try {
      document = parseWithLimits(query, config);
    } catch (error) {
      return [toGraphQLError(error, 'GRAPHQL_PARSE_FAILED')];
    }
    const errors = graphql.validate(subscriptions.apiSchema, document, rules);
    if (errors.length === 0) return document;
    return errors.map((error) => {
      // As Apollo Server's hideSchemaDetailsFromClientErrors does on HTTP: no "Did you mean" in production.
      if (production) error.message = error.message.replace(DID_YOU_MEAN, '');
      return toGraphQLError(error, 'GRAPHQL_VALIDATION_FAILED');
    });
  };

  // Errors of subscription events are GraphQLErrors from the query plan; those of queries come formatted by Apollo.
  const format = (error: GraphQLFormattedError | GraphQLError) =>
    error instanceof graphql.GraphQLError ? options.formatError(error.toJSON(), error) : error;

  return useServer<Record<string, unknown>, ConnectionExtra>(
    {
      connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        ctx.extra.client = options.guard.client(ctx.extra.request);
        const authorization = ctx.connectionParams?.authorization;
        if (authorization !== undefined && typeof authorization !== 'string') {
          ctx.extra.socket.close(CloseCode.Forbidden, 'connectionParams.authorization must be "Bearer <access token>"');
          return false;
        }
        try {
          ctx.extra.identity = await authenticate({ authorization }, config.JWT_SECRET, options.isRevoked);
          websocketConnections.inc();
          return true;
        } catch (error) {
          const code = (error as ErrorLike).extensions?.code;
          if (code === ErrorCode.ServiceUnavailable) {
            // Revocation cannot be checked: fail closed, and tell the client to come back (RFC 6455 1013).
            ctx.extra.socket.close(TRY_AGAIN_LATER, (error as ErrorLike).message);
            return false;
          }
          if (code !== ErrorCode.Unauthenticated) throw error;
          ctx.extra.socket.close(CloseCode.Forbidden, (error as ErrorLike).message);
          return false;
        }
      },
      // Called once for every socket whose onConnect accepted it.
      onDisconnect: () => void websocketConnections.dec(),
      onSubscribe: async (ctx, _id, payload) => {
        const identity = ctx.extra.identity ?? null;
        const client = ctx.extra.client ?? options.guard.client(ctx.extra.request);
        const document = validate(payload.query);
        if (Array.isArray(document)) return document;
        const request: OperationRequest = {
          query: payload.query,
          variables: payload.variables ?? {},
          operationName: payload.operationName ?? null,
        };
        const operation = graphql.getOperationAST(document, request.operationName);
        if (!operation) {
          return [toGraphQLError(new Error('Unable to identify the operation to run'), 'GRAPHQL_VALIDATION_FAILED')];
        }
        if (!subscriptions.apiSchema.getRootType(operation.operation)) {
          const message = `The schema does not support ${operation.operation} operations`;
          return [toGraphQLError(new Error(message), 'GRAPHQL_VALIDATION_FAILED')];
        }
        try {
          await options.guard.check({
            query: payload.query,
            document,
            operation,
            variables: request.variables,
            identity,
            client,
          });
        } catch (error) {
          return [toGraphQLError(error, 'BAD_REQUEST')];
        }
        const args = {
          schema: subscriptions.apiSchema,
          document,
          operationName: request.operationName,
          variableValues: request.variables,
        };
        if (operation.operation !== graphql.OperationTypeNode.SUBSCRIPTION) {
          return { ...args, contextValue: { identity, client, request } satisfies OperationContext };
        }
        const opened = await subscriptions.open({ ...request, document, identity });
        if (!(opened instanceof EventQueue)) return opened;
        return {
          ...args,
          contextValue: { identity, client, request, subscription: opened } satisfies OperationContext,
        };
      },
      execute: async (args) => {
        const { identity, client, request } = args.contextValue as OperationContext;
        // Apollo's formatted result: onNext below passes its (already formatted) errors through.
        return (await options.executeOperation(request, identity, client)) as ExecutionResult;
      },
      subscribe: (args) => {
        const { subscription } = args.contextValue as OperationContext;
        if (!subscription) throw new Error('onSubscribe did not open the subscription');
        return subscription;
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        const { errors, ...rest } = result;
        return errors ? { ...rest, errors: errors.map(format) } : rest;
      },
    },
    wss,
  );
}
