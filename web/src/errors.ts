import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

/** A message for the user from an Apollo error: the API's own message for typed errors (docs/api.md#errors). */
export function errorMessage(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const code = first?.extensions?.code;
    if (code === 'SERVICE_UNAVAILABLE') {
      return `The service is busy; try again in ${String(first?.extensions?.retryAfterSeconds ?? 'a few')} s`;
    }
    return first?.message ?? 'Something went wrong';
  }
  if (ServerError.is(error) && error.statusCode === 401) return 'Please sign in again';
  return error instanceof Error ? error.message : 'Something went wrong';
}
