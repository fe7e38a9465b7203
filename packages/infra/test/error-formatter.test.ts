import { describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { ErrorCode, errorFormatter } from '../src/index.ts';
import { capturingLogger } from '../src/testing/index.ts';

describe('errorFormatter in production', () => {
  it('should pass every client error code through as it is, and log none of them as an internal error', () => {
    const { logger, entries } = capturingLogger('warn');
    const format = errorFormatter(logger, true);
    // The gateway's realtime refusals included: a production gateway once turned them into "Internal server error".
    const codes = [
      ...Object.values(ErrorCode),
      'SUBSCRIPTION_TRANSPORT_NOT_ACCEPTABLE',
      'TOO_MANY_SUBSCRIPTIONS',
      'TOO_MANY_CONNECTIONS',
      'SUBSCRIPTION_QUEUE_OVERFLOW',
      'GRAPHQL_VALIDATION_FAILED',
    ];
    for (const code of codes) {
      if (code === ErrorCode.ServiceUnavailable) continue;
      const error = new GraphQLError(`refused: ${code}`, { extensions: { code } });
      expect(format(error.toJSON(), error)).toEqual(error.toJSON());
    }
    expect(entries).toEqual([]);
  });

  it('should hide an unexpected error behind INTERNAL_SERVER_ERROR and log it', () => {
    const { logger, entries } = capturingLogger('warn');
    const error = new GraphQLError('boom: secret detail', { extensions: { code: 'SOMETHING_ELSE' } });
    expect(errorFormatter(logger, true)(error.toJSON(), error)).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(entries.map((e) => e.msg)).toEqual(['internal error']);
  });
});
