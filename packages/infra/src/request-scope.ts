import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER, requestIdOf, withLogContext } from './log-context.ts';
import { withServerSpan } from './tracing/tracing.ts';

/**
 * What every incoming GraphQL request of `service` runs in: its request id (the client's when well-formed, else
 * a new one; set back on the request, so forwarded headers carry the clean value, and on the response), a server
 * span continuing the caller's `traceparent`, and log lines that carry both.
 */
export function inRequestScope<T>(
  service: string,
  req: IncomingMessage,
  res: ServerResponse,
  fn: () => Promise<T>,
): Promise<T> {
  const requestId = (req.headers[REQUEST_ID_HEADER] = requestIdOf(req.headers));
  res.setHeader(REQUEST_ID_HEADER, requestId);
  return withServerSpan(`${service} ${req.method ?? 'GET'} /graphql`, req.headers, { service }, () =>
    withLogContext({ request_id: requestId }, fn),
  );
}
