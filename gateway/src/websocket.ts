import type { Server } from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import type WebSocket from 'ws';
import { ErrorCode, websocketConnections, type Identity } from '@insta/infra';
import { authenticateSession } from './auth.ts';
import type { GatewayConfig } from './config.ts';
import type { ClientInfo } from './context.ts';
import { RealtimeCloseCode, TOO_MANY_SUBSCRIPTIONS } from './edge/close-codes.ts';
import {
  SESSION_EXPIRED_REASON,
  SESSION_REVOKED_REASON,
  type LiveConnection,
  type LiveConnections,
} from './edge/live-connections.ts';
import { NextMessages } from './edge/next-messages.ts';
import { operationValidator, toGraphQLError } from './edge/operation-validator.ts';
import { startKeepAlive } from './edge/keep-alive.ts';
import type { SocketGuard } from './edge/socket-guard.ts';
import { graphql } from './graphql-runtime.ts';
import { EventQueue } from './realtime/event-queue.ts';
import type { SubscriptionService } from './realtime/subscriptions.ts';

/** A graphql-ws message larger than this closes the socket (1009); MAX_TOKENS bounds what is parsed. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** WebSocket close code "Try Again Later" (RFC 6455 registry): a dependency of authentication is unavailable. */
export const TRY_AGAIN_LATER = RealtimeCloseCode.TryAgainLater;

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
  /** The realtime connections of this instance: per-user / per-address caps, revocation and expiry closes. */
  live: LiveConnections;
}

interface ConnectionExtra extends Record<PropertyKey, unknown> {
  /** Who opened the connection (`connectionParams.authorization`), null when anonymous. */
  identity: Identity | null;
  client: ClientInfo;
  /** The socket as the live connections know it (set once onConnect accepted it). */
  connection?: LiveConnection;
  release?: () => void;
  /** Ids of the subscriptions open on the socket (the per-socket cap). */
  subscriptionIds?: Set<string>;
}

interface OperationContext {
  identity: Identity | null;
  client: ClientInfo;
  request: OperationRequest;
  subscription?: { queue: EventQueue<ExecutionResult>; socket: WebSocket; id: string };
}

type ErrorLike = { message: string; extensions?: Record<string, unknown> };

/**
 * graphql-ws (`graphql-transport-ws`) on the gateway's HTTP server and path. The token comes with
 * `connection_init`: a bad one closes the socket with 4403 Forbidden and the reason; none means an anonymous
 * connection. The socket then follows its session (ADR 16): every operation is checked against it (revoked:
 * 4403 at once; expired: UNAUTHENTICATED, then 4440 after the grace period), a revocation heard on the bus closes
 * it at once, and the per-user, per-address and per-socket caps apply. Every operation is parsed and validated
 * with the same limits as HTTP before it runs. The server pings every WS_KEEPALIVE_MS.
 */
export function startWebSocketServer(options: WebSocketServerOptions) {
  const { config, subscriptions } = options;
  const wss = new WebSocketServer({
    server: options.httpServer,
    path: '/graphql',
    maxPayload: MAX_MESSAGE_BYTES,
    // A browser socket from an origin outside the CORS allowlist is refused before the upgrade.
    verifyClient: ({ req }, done) =>
      options.guard.allowsUpgrade(req) ? done(true) : done(false, 403, 'Origin not allowed'),
  });

  const validate = operationValidator(config, () => subscriptions.apiSchema);

  // Errors of subscription events are GraphQLErrors from the query plan; those of queries come formatted by Apollo.
  const format = (error: GraphQLFormattedError | GraphQLError) =>
    error instanceof graphql.GraphQLError ? options.formatError(error.toJSON(), error) : error;
  /** A result as its `next` message carries it (graphql-ws's `onNext`). */
  const payload = (result: ExecutionResult) => {
    const { errors, ...rest } = result;
    return errors ? { ...rest, errors: errors.map(format) } : rest;
  };
  const messages = new NextMessages(payload);

  /**
   * The socket follows its session (ADR 16): every operation is checked. Revoked: the socket closes with 4403 at
   * once. Expired token: the operation is refused with UNAUTHENTICATED (the socket closes after the grace
   * period unless the client reconnects with a fresh token first).
   */
  const checkSession = async (extra: Partial<ConnectionExtra>): Promise<GraphQLError[] | null> => {
    const { identity, connection } = extra;
    if (!identity || !connection) return null;
    const unauthenticated = (message: string) => [
      new graphql.GraphQLError(message, { extensions: { code: ErrorCode.Unauthenticated } }),
    ];
    if (options.live.expired(connection)) return unauthenticated(SESSION_EXPIRED_REASON);
    let revoked: boolean;
    try {
      revoked = await options.isRevoked(identity.sessionId);
    } catch (error) {
      return [toGraphQLError(error, ErrorCode.ServiceUnavailable)];
    }
    if (!revoked) return null;
    connection.close(RealtimeCloseCode.Forbidden, SESSION_REVOKED_REASON);
    return unauthenticated(SESSION_REVOKED_REASON);
  };

  const server = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        const client = options.guard.client(ctx.extra.request);
        ctx.extra.client = client;
        // Nothing reads the upgrade request after this (the client's address and origin are taken): an open
        // socket would otherwise keep its IncomingMessage, headers and all, for as long as it lives.
        (ctx.extra as { request?: unknown }).request = undefined;
        const authorization = ctx.connectionParams?.authorization;
        if (authorization !== undefined && typeof authorization !== 'string') {
          const reason = 'connectionParams.authorization must be "Bearer <access token>"';
          ctx.extra.socket.close(RealtimeCloseCode.Forbidden, reason);
          return false;
        }
        let session: Awaited<ReturnType<typeof authenticateSession>>;
        try {
          session = await authenticateSession({ authorization }, config.JWT_SECRET, options.isRevoked);
        } catch (error) {
          const code = (error as ErrorLike).extensions?.code;
          if (code === ErrorCode.ServiceUnavailable) {
            // Revocation cannot be checked: fail closed, and tell the client to come back (RFC 6455 1013).
            ctx.extra.socket.close(RealtimeCloseCode.TryAgainLater, (error as ErrorLike).message);
            return false;
          }
          if (code !== ErrorCode.Unauthenticated) throw error;
          ctx.extra.socket.close(RealtimeCloseCode.Forbidden, (error as ErrorLike).message);
          return false;
        }
        ctx.extra.identity = session?.identity ?? null;
        const { socket } = ctx.extra;
        const connection: LiveConnection = {
          identity: ctx.extra.identity,
          ip: client.ip,
          tokenExpiresAt: session?.expiresAt ?? null,
          close: (code, reason) => socket.close(code, reason),
        };
        const admission = options.live.admit(connection);
        if (!admission.ok) {
          socket.close(admission.code, admission.reason);
          return false;
        }
        ctx.extra.connection = connection;
        ctx.extra.release = admission.release;
        ctx.extra.subscriptionIds = new Set();
        // The socket may have closed while the token was checked: onClose then already ran.
        if (socket.readyState !== socket.OPEN) {
          admission.release();
          return false;
        }
        websocketConnections.inc();
        return true;
      },
      // Called once for every socket whose onConnect accepted it.
      onDisconnect: () => void websocketConnections.dec(),
      onClose: (ctx) => ctx.extra.release?.(),
      onComplete: (ctx, id) => void ctx.extra.subscriptionIds?.delete(id),
      onSubscribe: async (ctx, id, payload) => {
        const identity = ctx.extra.identity ?? null;
        // Set by onConnect, which graphql-ws runs before any subscribe is accepted.
        const client = ctx.extra.client!;
        const refused = await checkSession(ctx.extra);
        if (refused) return refused;
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
        const open = ctx.extra.subscriptionIds ?? new Set<string>();
        if (open.size >= config.REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET) {
          const message = `At most ${config.REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket`;
          return [new graphql.GraphQLError(message, { extensions: { code: TOO_MANY_SUBSCRIPTIONS } })];
        }
        // Counted from here: concurrent subscribe messages cannot all pass the cap. onComplete removes it.
        open.add(id);
        const opened = await subscriptions.open({ ...request, document, identity }).catch((error: unknown) => {
          open.delete(id);
          throw error;
        });
        if (!(opened instanceof EventQueue)) {
          open.delete(id);
          return opened;
        }
        const subscription = { queue: opened, socket: ctx.extra.socket, id };
        return { ...args, contextValue: { identity, client, request, subscription } satisfies OperationContext };
      },
      execute: async (args) => {
        const { identity, client, request } = args.contextValue as OperationContext;
        // Apollo's formatted result: onNext below passes its (already formatted) errors through.
        return (await options.executeOperation(request, identity, client)) as ExecutionResult;
      },
      // Subscription results skip graphql-ws's per-message path (a promise, an onNext copy and a JSON.stringify
      // per subscriber): the queue writes each result's `next` frame to the socket as it is pushed, its JSON
      // made once per result for all subscribers, one buffer and one write per socket (ADR 15, "Delivery"). graphql-ws still iterates the queue, so
      // `complete` and `error` are its own and come after the results, on the same socket.
      subscribe: (args) => {
        const { subscription } = args.contextValue as OperationContext;
        if (!subscription) throw new Error('onSubscribe did not open the subscription');
        const { queue, socket, id } = subscription;
        const prefix = NextMessages.prefix(id);
        queue.attach((result, written) => messages.send(socket, prefix, result, written));
        return queue;
      },
      onNext: (_ctx, _id, _payload, _args, result) => payload(result),
    },
    wss,
    // Pings come from one sweep for all sockets (edge/keep-alive.ts), not a timer per socket in graphql-ws.
    Infinity,
  );
  const stopKeepAlive = config.WS_KEEPALIVE_MS > 0 ? startKeepAlive(wss, config.WS_KEEPALIVE_MS) : () => undefined;
  return {
    dispose: async () => {
      stopKeepAlive();
      await server.dispose();
    },
  };
}
