import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The request id a client (or the gateway, for subgraphs) sends, and every response carries. */
export const REQUEST_ID_HEADER = 'x-request-id';
/** Letters, digits, `.`, `_` and `-`, 1 to 64 of them: anything else from a client is replaced. */
const WELL_FORMED = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The request id of a request: the one it carries when well-formed (a UUID, a proxy's trace id), else a new
 * UUID — so a client can correlate its request with the logs, but never write arbitrary text into them.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const value = headers[REQUEST_ID_HEADER];
  const candidate = Array.isArray(value) ? value[0] : value;
  return candidate && WELL_FORMED.test(candidate) ? candidate : randomUUID();
}

/** Fields every log line written while a request is handled carries (see createLogger's mixin). */
export interface LogContext {
  request_id: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `context` added to every log line written inside it (awaited work included). */
export function withLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run(context, fn);
}

export const currentLogContext = (): LogContext | undefined => storage.getStore();
