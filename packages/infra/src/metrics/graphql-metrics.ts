import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ErrorCode } from '../errors.ts';
import { graphqlErrors, graphqlRequestDuration, graphqlResponses } from './registry.ts';

/** Operation names become labels at most this many per process; later new names are counted as "other". */
export const MAX_OPERATION_LABELS = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Bounds the `operation` label: a name is used only when its operation parsed and validated against the schema
 * (a request that fails validation is never a label), is well-formed, and is among the first `max` names this
 * process saw (with trusted documents on, only registered operations get that far). Everything else is
 * "other"; anonymous operations are "anonymous".
 */
export class OperationLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_OPERATION_LABELS) {}

  label(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.seen.has(name)) return name;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(name);
    return name;
  }
}

/** Error codes that become labels (ours, Apollo Server's, the gateway's); any other code (or none) is "other". */
const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  'INTERNAL_SERVER_ERROR',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'SUBSCRIPTION_QUEUE_OVERFLOW',
]);

export function errorCodeLabel(code: unknown): string {
  return typeof code === 'string' && KNOWN_CODES.has(code) ? code : 'other';
}

/**
 * Apollo Server plugin: the duration of every GraphQL request by operation and type (query, mutation,
 * subscription; "unknown" when it did not parse or validate), and every error of the response (as the client
 * sees it, after formatError) by code.
 */
export function graphqlMetricsPlugin<TContext extends BaseContext>(
  service: string,
  labels = new OperationLabels(),
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      const end = graphqlRequestDuration.startTimer({ service });
      let operation = 'other';
      let type = 'unknown';
      return {
        async didResolveOperation({ operation: resolved, operationName }) {
          if (!resolved) return;
          type = resolved.operation;
          operation = labels.label(operationName ?? resolved.name?.value);
        },
        async willSendResponse({ response }) {
          end({ operation, type });
          graphqlResponses.inc({ service, status: String(response.http.status ?? 200) });
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          for (const error of errors ?? [])
            graphqlErrors.inc({ service, code: errorCodeLabel(error.extensions?.code) });
        },
      };
    },
  };
}
