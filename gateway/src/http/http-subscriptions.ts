import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import { ErrorCode, sendJson } from '@insta/infra';
import { authenticateSession } from '../auth.ts';
import type { GatewayConfig } from '../config.ts';
import type { GatewayContext } from '../context.ts';
import { TOO_MANY_CONNECTIONS } from '../edge/close-codes.ts';
import type { LiveConnection, LiveConnections } from '../edge/live-connections.ts';
import { operationValidator, toGraphQLError } from '../edge/operation-validator.ts';
import type { SocketGuard } from '../edge/socket-guard.ts';
import { graphql } from '../graphql-runtime.ts';
import { EventQueue } from '../realtime/event-queue.ts';
import type { SubscriptionService } from '../realtime/subscriptions.ts';

/** `extensions.code` of a subscription sent over HTTP without a transport the gateway speaks (406). */
export const SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE = ErrorCode.SubscriptionTransportNotAcceptable;
/** What a client may use for subscriptions, as the 406 lists them. */
export const SUBSCRIPTION_TRANSPORTS = [
  'POST /graphql with Accept: multipart/mixed;subscriptionSpec=1.0 (Apollo multipart HTTP; Apollo Client HttpLink)',
  'websocket on /graphql with the graphql-transport-ws subprotocol (graphql-ws)',
] as const;

const BOUNDARY = 'graphql';
export const MULTIPART_CONTENT_TYPE = `multipart/mixed;boundary="${BOUNDARY}";subscriptionSpec="1.0"`;
/** One part: headers, blank line, JSON body, then the delimiter that closes it (RFC 2046, Apollo's framing). */
const part = (json: string) => `\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${json}\r\n--${BOUNDARY}`;
const HEARTBEAT = part('{}');
const OPENING = `\r\n--${BOUNDARY}`;
/** After the last delimiter: `--` makes it the close delimiter. */
const CLOSING = '--\r\n';

/** A body that may hold a subscription: only operations whose text says `subscription` need parsing here. */
const MAY_SUBSCRIBE = /\bsubscription\b/;

export interface HttpSubscriptionsOptions {
  config: GatewayConfig;
  subscriptions: SubscriptionService;
  guard: SocketGuard;
  live: LiveConnections;
  isRevoked(sessionId: string): Promise<boolean>;
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
  /**
   * The text of a persisted document by its sha256 (the trusted documents when enforced), for a subscription
   * sent as `extensions.persistedQuery.sha256Hash` without its text; undefined when unknown.
   */
  persistedDocument?(sha256Hash: string): Promise<string | undefined>;
}

/** A GraphQL-over-HTTP request as sent, unchecked. */
type RawRequest = { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown };

interface GraphQLRequestBody {
  query: string;
  variables: Record<string, unknown>;
  operationName: string | null;
}

/**
 * Subscriptions over HTTP (ADR 16): Apollo's multipart HTTP protocol for subscriptions, which Apollo Client's
 * HttpLink speaks natively. A subscription sent with another Accept gets 406 with the transports that work; any
 * other operation is left to Apollo Server. The stream has the auth, limits, rate limit and per-event
 * authorization of the socket (it is one subscription of the same SubscriptionService, and one live connection
 * for the per-user / per-address caps), sends `{}` every HTTP_SUBSCRIPTION_HEARTBEAT_MS, ends with an error part
 * when its session is revoked or expires (plus grace), and stops when the client disconnects.
 */
export function httpSubscriptions(options: HttpSubscriptionsOptions) {
  const { config, subscriptions } = options;
  const validate = operationValidator(config, () => subscriptions.apiSchema);

  /** The request's operation when it is a subscription (POST JSON body or GET query string), else null. */
  const subscriptionOf = async (
    req: IncomingMessage,
    rawBody: string | undefined,
  ): Promise<GraphQLRequestBody | null> => {
    let request: RawRequest | null = null;
    if (req.method === 'POST' && rawBody !== undefined) {
      const persisted = options.persistedDocument && rawBody.includes('sha256Hash');
      if (!persisted && !MAY_SUBSCRIBE.test(rawBody)) return null;
      try {
        request = JSON.parse(rawBody) as RawRequest | null;
      } catch {
        return null;
      }
      const hash = (request?.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery
        ?.sha256Hash;
      if (request && request.query === undefined && typeof hash === 'string' && options.persistedDocument) {
        const text = await options.persistedDocument(hash);
        if (text === undefined || !MAY_SUBSCRIBE.test(text)) return null;
        request.query = text;
      }
    } else if (req.method === 'GET') {
      const search = new URL(req.url ?? '/', 'http://localhost').searchParams;
      const query = search.get('query');
      if (!query || !MAY_SUBSCRIBE.test(query)) return null;
      request = { query, operationName: search.get('operationName') };
    }
    if (!request || typeof request !== 'object' || typeof request.query !== 'string') return null;
    let document;
    try {
      document = graphql.parse(request.query, { maxTokens: config.MAX_TOKENS });
    } catch {
      return null; // Apollo Server answers the parse error as for any other operation.
    }
    const operationName = typeof request.operationName === 'string' ? request.operationName : null;
    const operation = graphql.getOperationAST(document, operationName);
    if (operation?.operation !== graphql.OperationTypeNode.SUBSCRIPTION) return null;
    const variables =
      request.variables && typeof request.variables === 'object' ? (request.variables as Record<string, unknown>) : {};
    return { query: request.query, variables, operationName };
  };

  const refuse = (res: ServerResponse, errors: readonly GraphQLError[], status?: number) => {
    const code = errors[0]?.extensions.code;
    const retryAfter = (errors[0]?.extensions.retryAfterSeconds ?? undefined) as number | undefined;
    const answer =
      status ??
      (code === ErrorCode.Unauthenticated
        ? 401
        : code === ErrorCode.ServiceUnavailable
          ? 503
          : code === ErrorCode.RateLimited || code === TOO_MANY_CONNECTIONS
            ? 429
            : code === ErrorCode.Forbidden
              ? 403
              : 400);
    const headers: Record<string, string> = retryAfter ? { 'retry-after': String(retryAfter) } : {};
    sendJson(res, answer, { errors: errors.map((e) => options.formatError(e.toJSON(), e)) }, headers);
  };

  const stream = async (req: IncomingMessage, res: ServerResponse, request: GraphQLRequestBody) => {
    let session: Awaited<ReturnType<typeof authenticateSession>>;
    try {
      session = await authenticateSession(req.headers, config.JWT_SECRET, options.isRevoked);
    } catch (error) {
      return refuse(res, [toGraphQLError(error, ErrorCode.Unauthenticated)]);
    }
    const identity = session?.identity ?? null;
    const client = options.guard.client(req);
    const document = validate(request.query);
    if (Array.isArray(document)) return refuse(res, document);
    const operation = graphql.getOperationAST(document, request.operationName);
    if (!operation) return refuse(res, [toGraphQLError(new Error('Unable to identify the operation'), 'BAD_REQUEST')]);
    try {
      await options.guard.check({ ...request, document, operation, identity, client });
    } catch (error) {
      return refuse(res, [toGraphQLError(error, 'BAD_REQUEST')]);
    }

    let queue: EventQueue<ExecutionResult> | null = null;
    let finished = false;
    /** The multipart response has begun (until then a refusal is a plain JSON answer). */
    let streaming = false;
    let heartbeat: NodeJS.Timeout | undefined;
    let release = () => {};
    /** Ends the stream once: an error part when given, then the close delimiter. */
    const finish = (error?: GraphQLFormattedError) => {
      if (finished) return;
      finished = true;
      clearInterval(heartbeat);
      release();
      queue?.return().catch(() => undefined);
      if (res.writableEnded || res.destroyed) return;
      if (!streaming) {
        // Revoked or expired while the subscription was being opened: a plain answer.
        if (error) sendJson(res, 401, { errors: [error] });
        return;
      }
      if (error) res.write(part(JSON.stringify({ payload: null, errors: [error] })));
      res.end(CLOSING);
    };
    const connection: LiveConnection = {
      identity,
      ip: client.ip,
      tokenExpiresAt: session?.expiresAt ?? null,
      // Revoked (4403) or expired past the grace (4440): the last part says which.
      close: (closeCode, reason) =>
        finish({ message: reason, extensions: { code: ErrorCode.Unauthenticated, closeCode } }),
    };
    const admission = options.live.admit(connection);
    if (!admission.ok) {
      const error = new graphql.GraphQLError(admission.reason, {
        extensions: { code: TOO_MANY_CONNECTIONS, closeCode: admission.code },
      });
      return refuse(res, [error], 429);
    }
    release = admission.release;
    // The client going away (Apollo Client aborts the fetch on unsubscribe) ends the subscription.
    res.on('close', () => finish());

    let opened: Awaited<ReturnType<SubscriptionService['open']>>;
    try {
      opened = await subscriptions.open({ ...request, document, identity });
    } catch (error) {
      finish();
      throw error;
    }
    if (!(opened instanceof EventQueue)) {
      finish();
      return refuse(res, opened);
    }
    queue = opened;
    if (finished) return void queue.return();

    streaming = true;
    res.writeHead(200, { 'content-type': MULTIPART_CONTENT_TYPE, 'cache-control': 'no-store' });
    // The first heartbeat flushes the headers: the client knows the subscription is open.
    res.write(OPENING + HEARTBEAT);
    heartbeat = setInterval(() => res.write(HEARTBEAT), config.HTTP_SUBSCRIPTION_HEARTBEAT_MS);
    heartbeat.unref();
    try {
      for await (const result of queue) {
        const { errors, ...rest } = result;
        const payload = errors ? { ...rest, errors: errors.map((e) => options.formatError(e.toJSON(), e)) } : rest;
        // A slow reader holds the loop here; the subscription's bounded queue then ends it (overflow).
        if (!res.write(part(JSON.stringify({ payload })))) await waitForDrain(res);
        if (finished) break;
      }
      finish();
    } catch (error) {
      const graphQLError =
        error instanceof graphql.GraphQLError ? error : toGraphQLError(error, 'INTERNAL_SERVER_ERROR');
      finish(options.formatError(graphQLError.toJSON(), graphQLError));
    }
  };

  return {
    /**
     * Answers the request when it is a subscription (true), else leaves it to Apollo Server (false). The body,
     * when the caller has read it, is given as `rawBody`.
     */
    async handle(req: IncomingMessage, res: ServerResponse, rawBody: string | undefined): Promise<boolean> {
      const request = await subscriptionOf(req, rawBody);
      if (!request) return false;
      if (req.method !== 'POST' || !acceptsMultipartSubscriptions(req.headers.accept)) {
        const message =
          'Subscriptions over HTTP need POST with "Accept: multipart/mixed;subscriptionSpec=1.0"; ' +
          'or open a websocket (graphql-transport-ws) on /graphql';
        const error = new graphql.GraphQLError(message, {
          extensions: { code: SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE, transports: [...SUBSCRIPTION_TRANSPORTS] },
        });
        refuse(res, [error], 406);
        return true;
      }
      await stream(req, res, request);
      return true;
    },
  };
}

/** Whether an Accept header offers Apollo's multipart subscription protocol (`subscriptionSpec=1.0`, quoted or not). */
export function acceptsMultipartSubscriptions(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'multipart/mixed') return false;
    return params.some((p) => p.replace(/\s/g, '').replace(/"/g, '') === 'subscriptionspec=1.0');
  });
}

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The subscriptions `httpSubscriptions` could not recognise before Apollo Server (sent as a persisted-query hash
 * or trusted-document id without text) are refused once Apollo Server has resolved the operation: 406 with the
 * transports, instead of the gateway's 500 "Execution of subscriptions not supported by gateway".
 */
export function subscriptionTransportPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new graphql.GraphQLError(
            'Subscriptions over HTTP need the query text and "Accept: multipart/mixed;subscriptionSpec=1.0"; ' +
              'or open a websocket (graphql-transport-ws) on /graphql',
            {
              extensions: {
                code: SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE,
                transports: [...SUBSCRIPTION_TRANSPORTS],
                http: { status: 406 },
              },
            },
          );
        },
      };
    },
  };
}
