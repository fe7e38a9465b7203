import { describe, expect, it } from 'vitest';
import { BrokenCircuitError, BulkheadRejectedError, IsolatedCircuitError, TaskCancelledError } from 'cockatiel';
import { PoisonMessageError, TransientError, backoffDelayMs, isTransientError } from '../src/failures.ts';

describe('failure classes', () => {
  it('should call unreachable infrastructure transient, through the cause chain', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isTransientError(refused)).toBe(true);
    expect(isTransientError(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { code: 'P1001' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isTransientError(new TransientError('breaker open'))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isTransientError(new AggregateError([new Error('a'), refused]))).toBe(true);
    expect(isTransientError(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
  });

  it('should call cockatiel breaker, timeout and bulkhead rejections transient', () => {
    expect(isTransientError(new BrokenCircuitError())).toBe(true);
    expect(isTransientError(new TaskCancelledError())).toBe(true);
    expect(isTransientError(new IsolatedCircuitError())).toBe(true);
    expect(isTransientError(new BulkheadRejectedError(1, 0))).toBe(true);
  });

  // The shapes Prisma 7 with @prisma/adapter-pg throws, as observed with a stopped Postgres
  // (prisma/test/transient-errors.test.ts checks them against a real one).
  it('should call Prisma driver-adapter errors of an unreachable or restarting database transient', () => {
    const adapterError = (cause: object) => ({ driverAdapterError: { name: 'DriverAdapterError', cause } });
    const rawUnreachable = Object.assign(new Error('Raw query failed. Code: `N/A`.'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2010',
      meta: adapterError({ kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 }),
    });
    const rawTerminated = Object.assign(new Error('Raw query failed. Code: `57P01`.'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2010',
      meta: adapterError({ kind: 'postgres', code: '57P01', originalCode: '57P01', severity: 'FATAL' }),
    });
    const rawDenied = Object.assign(new Error('Raw query failed. Code: `28000`.'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2010',
      meta: adapterError({ kind: 'DatabaseAccessDenied', originalCode: '28000' }),
    });
    expect(isTransientError(rawUnreachable)).toBe(true);
    expect(isTransientError(rawTerminated)).toBe(true);
    expect(isTransientError(rawDenied)).toBe(false);
  });

  it("should call another service's SERVICE_UNAVAILABLE answer transient, and its other errors poison", () => {
    const answered = (code: string) =>
      Object.assign(new Error('internal request to http://social-graph/graphql failed (200)'), {
        name: 'InternalRequestError',
        errors: [{ message: 'Service unavailable', extensions: { code, retryAfterSeconds: 1 } }],
      });
    expect(isTransientError(answered('SERVICE_UNAVAILABLE'))).toBe(true);
    expect(isTransientError(answered('BAD_USER_INPUT'))).toBe(false);
    expect(isTransientError(answered('INTERNAL_SERVER_ERROR'))).toBe(false);
  });

  it('should call content failures and unknown errors poison', () => {
    expect(isTransientError(new PoisonMessageError('bad payload', { cause: new TransientError('x') }))).toBe(false);
    expect(isTransientError(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isTransientError(Object.assign(new Error('unique'), { code: 'P2002' }))).toBe(false);
    expect(isTransientError(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 403 } }))).toBe(false);
    expect(isTransientError('a string')).toBe(false);
  });

  it('should back off exponentially within the cap, with jitter', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const delay = backoffDelayMs(attempt, 100, 5_000);
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(Math.min(5_000, 100 * 2 ** (attempt - 1)));
    }
  });
});
