/**
 * Failure classes, shared by every consumer, relay, breaker and error formatter:
 * - transient: the infrastructure failed (Postgres, Redis, NATS, S3 or a subgraph unreachable, a timeout, a 5xx,
 *   an open breaker). Retry with backoff for as long as it takes; never dead-letter; a client gets the typed,
 *   retryable SERVICE_UNAVAILABLE.
 * - poison: the message or request itself cannot succeed (bad payload, broken invariant). Retried a few times at
 *   most (it could still be a bug that a deploy fixes), then dead-lettered.
 * Anything not recognised as transient counts as poison: a new kind of outage shows up in the dead letters,
 * which are kept and can be replayed, instead of a bug being retried forever.
 */
export class TransientError extends Error {
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TransientError';
    this.retryAfterMs = options.retryAfterMs;
  }
  readonly retryAfterMs: number | undefined;
}

/** A message that fails on its content: dead-lettered after the consumer's tries, without waiting for backoff. */
export class PoisonMessageError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PoisonMessageError';
  }
}

/** Node/undici socket-level error codes that mean "could not talk to the other side". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
]);

/**
 * Prisma codes for an unreachable or overloaded database (P1xxx connection errors, P2024 pool timeout, P2034
 * write conflict / deadlock: a retry is what Prisma's docs advise).
 */
const PRISMA_TRANSIENT_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1011', 'P1017', 'P2024', 'P2034']);

/**
 * SQLSTATE classes and codes of Postgres that a retry can cure: 08 connection exception, 53 insufficient
 * resources, 57P01-57P03 shutdown / cannot connect now, 40001 serialization failure, 40P01 deadlock.
 */
function isTransientSqlState(code: string): boolean {
  return /^(08|53)/.test(code) || ['57P01', '57P02', '57P03', '40001', '40P01'].includes(code);
}

/**
 * Names of error classes that are transient by construction (ioredis, NATS, AWS SDK, Prisma). Cockatiel's errors
 * keep the name `Error`; they are recognised by their `is…Error` flags below.
 */
const TRANSIENT_NAMES = new Set([
  'TransientError',
  'BrokenCircuitError',
  'TaskCancelledError',
  'IsolatedCircuitError',
  'MaxRetriesPerRequestError',
  'TimeoutError',
  'ConnectionError',
  'PrismaClientInitializationError',
  'AbortError',
]);

const MESSAGE_PATTERNS = [
  /connection is closed/i,
  // node-postgres, once a client lost its connection mid-transaction or the pool was cut off.
  /client has encountered a connection error and is not queryable/i,
  /client was closed and is not queryable/i,
  /connection (terminated|refused|reset)/i,
  /can't reach database server/i,
  /server has closed the connection/i,
  /timed out fetching a new connection/i,
  /the database system is (starting up|shutting down)/i,
  /terminating connection due to administrator command/i,
  /stream isn't writeable/i,
  /no responders/i,
  // A stream that discards new messages is full (JetStream's error, also the memory bus's): room comes back.
  /maximum (bytes|messages) exceeded/i,
  /jetstream.*(not enabled|unavailable)/i,
];

function isTransientOne(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    statusCode?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    kind?: unknown;
    isBrokenCircuitError?: unknown;
    isTaskCancelledError?: unknown;
    isIsolatedCircuitError?: unknown;
    isBulkheadRejectedError?: unknown;
    extensions?: { code?: unknown };
  };
  if (e instanceof PoisonMessageError) return false;
  // A GraphQL error another service answered with (e.g. among an InternalRequestError's `errors`): its own
  // infrastructure failed, and it said so with the typed, retryable code.
  if (e.extensions?.code === 'SERVICE_UNAVAILABLE') return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  // cockatiel: an open (or isolated) breaker, a timeout, a full bulkhead.
  if (e.isBrokenCircuitError || e.isTaskCancelledError || e.isIsolatedCircuitError || e.isBulkheadRejectedError) {
    return true;
  }
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || PRISMA_TRANSIENT_CODES.has(e.code)) return true;
    if (/^[0-9A-Z]{5}$/.test(e.code) && isTransientSqlState(e.code)) return true;
  }
  // Prisma driver-adapter errors carry what went wrong as `kind` (e.g. DatabaseNotReachable).
  if (typeof e.kind === 'string' && /NotReachable|ConnectionClosed|SocketTimeout|TooManyConnections/.test(e.kind)) {
    return true;
  }
  if (e.$retryable) return true;
  const status = typeof e.statusCode === 'number' ? e.statusCode : e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  return typeof e.message === 'string' && MESSAGE_PATTERNS.some((pattern) => pattern.test(e.message as string));
}

/** True when `error`, or anything in its `cause` chain (or an AggregateError's members), is transient. */
export function isTransientError(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof PoisonMessageError) return false;
    if (isTransientOne(current)) return true;
    if (typeof current === 'object') {
      const { cause, errors, originalError, meta } = current as {
        cause?: unknown;
        errors?: unknown;
        originalError?: unknown;
        meta?: { driverAdapterError?: unknown };
      };
      // Prisma 7 with a driver adapter: PrismaClientKnownRequestError (P1001, or P2010 for raw queries) carries
      // the adapter's error in meta.driverAdapterError, whose cause has `kind` and the SQLSTATE `code`.
      queue.push(cause, originalError, meta?.driverAdapterError);
      if (Array.isArray(errors)) queue.push(...errors);
    }
  }
  return false;
}

/** Exponential backoff with full jitter: a random delay in [base, min(cap, base·2^(attempt-1))]. */
export function backoffDelayMs(attempt: number, baseMs = 500, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(baseMs + Math.random() * Math.max(0, ceiling - baseMs));
}
