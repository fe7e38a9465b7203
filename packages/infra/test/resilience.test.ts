import { describe, expect, it } from 'vitest';
import { BrokenCircuitError } from 'cockatiel';
import { CallPolicy } from '../src/resilience.ts';
import { TransientError, isTransientError } from '../src/failures.ts';

const settings = { timeoutMs: 200, retries: 2, breakerThreshold: 3, breakerHalfOpenAfterMs: 60_000 };
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

/** A call that fails transiently `failures` times, then answers; counts its attempts. */
function flaky(failures: number) {
  const call = {
    attempts: 0,
    run: async () => {
      call.attempts++;
      if (call.attempts <= failures) throw refused();
      return 'answer';
    },
  };
  return call;
}

describe('CallPolicy', () => {
  it('should retry a read that failed transiently, but try a write once', async () => {
    const read = flaky(2);
    expect(await new CallPolicy('dep', settings).execute(read.run, { idempotent: true })).toBe('answer');
    expect(read.attempts).toBe(3);
    const write = flaky(1);
    await expect(new CallPolicy('dep', settings).execute(write.run, { idempotent: false })).rejects.toThrow(
      TransientError,
    );
    expect(write.attempts).toBe(1);
  });

  it('should pass errors of the request itself through untouched, without retrying or counting them', async () => {
    const policy = new CallPolicy('dep', settings);
    let attempts = 0;
    const bad = new TypeError('bad input');
    for (let i = 0; i < 5; i++) {
      await expect(
        policy.execute(
          async () => {
            attempts++;
            throw bad;
          },
          { idempotent: true },
        ),
      ).rejects.toBe(bad);
    }
    expect(attempts).toBe(5);
    expect(policy.state).toBe('closed');
  });

  it('should abandon an attempt that takes longer than the timeout, aborting its signal', async () => {
    const policy = new CallPolicy('slow', { ...settings, retries: 0 });
    let aborted = false;
    const error = await policy
      .execute(
        (signal) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(new Error('aborted'));
            });
          }),
        { idempotent: true },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe('slow did not answer within 200 ms');
    expect(aborted).toBe(true);
  });

  it('should open after consecutive transient failures and then fail at once, saying when to retry', async () => {
    const policy = new CallPolicy('dep', { ...settings, retries: 0 });
    for (let i = 0; i < 3; i++) {
      await expect(policy.execute(flaky(1).run, { idempotent: true })).rejects.toThrow(/dep is unreachable/);
    }
    expect(policy.state).toBe('open');
    const untouched = flaky(0);
    const error = (await policy
      .execute(untouched.run, { idempotent: true })
      .catch((e: unknown) => e)) as TransientError;
    expect(untouched.attempts).toBe(0);
    expect(error.cause).toBeInstanceOf(BrokenCircuitError);
    expect(error.message).toBe('dep is not answering (circuit open)');
    expect(error.retryAfterMs).toBeGreaterThan(50_000);
    expect(isTransientError(error)).toBe(true);
    expect(policy.unavailable(error).extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      retryAfterSeconds: 60,
    });
  });
});
