import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from '@insta/infra';
import type { GatewayContext } from '../context.ts';

type FormattedErrors = readonly { extensions?: Record<string, unknown> }[] | undefined;

/** The largest `retryAfterSeconds` of the SERVICE_UNAVAILABLE errors, or null when there is none. */
export function retryAfterOf(errors: FormattedErrors): number | null {
  let retryAfter: number | null = null;
  for (const error of errors ?? []) {
    if (error.extensions?.code !== ErrorCode.ServiceUnavailable) continue;
    const seconds = Number(error.extensions.retryAfterSeconds);
    retryAfter = Math.max(retryAfter ?? 1, Number.isFinite(seconds) ? seconds : 1);
  }
  return retryAfter;
}

/** No data at all, or only null root fields: nothing of the operation was served. */
const nothingServed = (data: Record<string, unknown> | null | undefined) =>
  !data || Object.values(data).every((value) => value === null);

/**
 * HTTP 503 with `Retry-After` when an operation failed as a whole because a dependency is unavailable; an
 * operation some of whose fields were served keeps 200 (partial data, the errors say which fields failed).
 */
export function unavailableStatusPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          const retryAfter = retryAfterOf(errors);
          if (retryAfter === null || !nothingServed(data)) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(retryAfter));
        },
      };
    },
  };
}
