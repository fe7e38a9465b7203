import { GraphQLError } from 'graphql';

/** The error codes of the public API, plus the gateway's operation-limit code. */
export const ErrorCode = {
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  BadUserInput: 'BAD_USER_INPUT',
  NotFound: 'NOT_FOUND',
  RateLimited: 'RATE_LIMITED',
  Conflict: 'CONFLICT',
  OperationLimitExceeded: 'OPERATION_LIMIT_EXCEEDED',
  /** An infrastructure failure (database, cache, broker or subgraph down): retry after `retryAfterSeconds`. */
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  /** The gateway accepts only registered operations (trusted documents) and this one is not. */
  PersistedQueryNotInList: 'PERSISTED_QUERY_NOT_IN_LIST',
  /** A video upload on a server without ffmpeg/ffprobe: refused up front instead of failed after the upload. */
  VideoProcessingUnavailable: 'VIDEO_PROCESSING_UNAVAILABLE',
  /** A subscription sent over HTTP without a transport the gateway speaks (406, `extensions.transports`). */
  SubscriptionTransportNotAcceptable: 'SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE',
  /** More subscriptions on one socket than REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET. */
  TooManySubscriptions: 'TOO_MANY_SUBSCRIPTIONS',
  /** More realtime connections for this user or address than the gateway's caps (HTTP 429 / close 4441, 4442). */
  TooManyConnections: 'TOO_MANY_CONNECTIONS',
  /** A subscriber fell further behind than SUBSCRIPTION_QUEUE_SIZE results: its subscription ends. */
  SubscriptionQueueOverflow: 'SUBSCRIPTION_QUEUE_OVERFLOW',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

export const unauthenticated = (message = 'You must be signed in') => appError(ErrorCode.Unauthenticated, message);
export const forbidden = (message = 'Not allowed') => appError(ErrorCode.Forbidden, message);
export const notFound = (message: string) => appError(ErrorCode.NotFound, message);
export const conflict = (message: string, field?: string) =>
  appError(ErrorCode.Conflict, message, field ? { field } : {});
export const badUserInput = (message: string, field?: string) =>
  appError(ErrorCode.BadUserInput, message, field ? { field } : {});
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  appError(ErrorCode.RateLimited, message, { retryAfterSeconds });
export const serviceUnavailable = (message: string, retryAfterSeconds: number) =>
  appError(ErrorCode.ServiceUnavailable, message, { retryAfterSeconds });
