import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { serviceUnavailable } from './errors.ts';
import { TransientError, isTransientError } from './failures.ts';
import type { Logger } from './logger.ts';
import { registerBreaker } from './metrics/registry.ts';

/** Settings of the policy around calls to one dependency (a subgraph, S3). */
export interface CallPolicySettings {
  /** Each attempt is abandoned (its AbortSignal fired) after this long. */
  timeoutMs: number;
  /** Extra attempts for idempotent calls that failed transiently (0: none). Never used for writes. */
  retries: number;
  /** Consecutive transient failures that open the breaker. */
  breakerThreshold: number;
  /** How long an open breaker answers at once before it lets one trial call through. */
  breakerHalfOpenAfterMs: number;
}

/** The defaults of `outboundCallEnv()`. */
export const DEFAULT_CALL_POLICY: CallPolicySettings = {
  timeoutMs: 5_000,
  retries: 2,
  breakerThreshold: 5,
  breakerHalfOpenAfterMs: 5_000,
};

/** The variables of `outboundCallEnv()` (config.ts), which every subgraph reads. */
export interface CallPolicyEnv {
  OUTBOUND_TIMEOUT_MS: number;
  OUTBOUND_RETRIES: number;
  BREAKER_THRESHOLD: number;
  BREAKER_HALF_OPEN_AFTER_MS: number;
}

export const callPolicySettings = (
  config: CallPolicyEnv,
  timeoutMs = config.OUTBOUND_TIMEOUT_MS,
): CallPolicySettings => ({
  timeoutMs,
  retries: config.OUTBOUND_RETRIES,
  breakerThreshold: config.BREAKER_THRESHOLD,
  breakerHalfOpenAfterMs: config.BREAKER_HALF_OPEN_AFTER_MS,
});

export interface CallOptions {
  /** Reads may be retried; writes (mutations, uploads) are tried once. */
  idempotent: boolean;
  /** The caller's own cancellation (e.g. the client went away); combined with the timeout. */
  signal?: AbortSignal;
}

/**
 * A breaker, a per-attempt timeout and (for idempotent calls) retries with exponential backoff and jitter,
 * around every call to one dependency, built from cockatiel. Only transient failures (`isTransientError`:
 * unreachable, 5xx, timeouts) count against the breaker and are retried; an answer that is an error of the
 * request itself passes through untouched. An open breaker fails at once. Transient failures reject with a
 * TransientError (cause: cockatiel's BrokenCircuitError / TaskCancelledError or the network error) that carries
 * `retryAfterMs`; `unavailable()` turns one into the client-facing SERVICE_UNAVAILABLE.
 */
export class CallPolicy {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly attempt;
  private readonly retrying;
  private openedAt = 0;

  constructor(
    readonly name: string,
    readonly settings: CallPolicySettings,
    logger?: Logger,
  ) {
    const transient = handleWhen(isTransientError);
    this.breaker = circuitBreaker(transient, {
      halfOpenAfter: settings.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(settings.breakerThreshold),
    });
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      logger?.warn({ dependency: name }, 'circuit breaker open');
    });
    this.breaker.onReset(() => logger?.info({ dependency: name }, 'circuit breaker closed'));
    registerBreaker(name, this);
    // abortOnReturn off: an attempt that returned has read its whole response, so nothing is left to cancel, and
    // aborting anyway built a DOMException (with its stack) on every call: 1.5% of the gateway's CPU (ADR 19).
    // A timeout still aborts the attempt's signal.
    this.attempt = wrap(
      this.breaker,
      timeout(settings.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }),
    );
    // Retrying an open breaker is pointless: it would only wait out the backoff to fail again.
    const retryable = handleWhen((error) => isTransientError(error) && !(error instanceof BrokenCircuitError));
    this.retrying = wrap(
      retry(retryable, {
        maxAttempts: settings.retries,
        backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }),
      }),
      this.attempt,
    );
  }

  /**
   * Runs `fn` (given an AbortSignal that fires on timeout or the caller's cancellation) under the policy. A
   * transient failure rejects with a TransientError naming the dependency (cause: the original error) and
   * carrying when to retry; any other error passes through unchanged.
   */
  async execute<T>(fn: (signal: AbortSignal) => Promise<T>, options: CallOptions): Promise<T> {
    const policy = options.idempotent && this.settings.retries > 0 ? this.retrying : this.attempt;
    try {
      return await policy.execute(async ({ signal }) => {
        try {
          return await fn(signal);
        } catch (error) {
          // The call gave up because the timeout aborted it (undici rejects with its own AbortError first).
          if (signal.aborted && !options.signal?.aborted) throw new TaskCancelledError('timed out');
          throw error;
        }
      }, options.signal);
    } catch (error) {
      if (!isTransientError(error) || error instanceof TransientError) throw error;
      throw new TransientError(`${this.name} ${this.reason(error)}`, {
        cause: error,
        retryAfterMs: this.retryAfterSeconds() * 1000,
      });
    }
  }

  private reason(error: unknown): string {
    if (error instanceof BrokenCircuitError) return 'is not answering (circuit open)';
    if (error instanceof TaskCancelledError) return `did not answer within ${this.settings.timeoutMs} ms`;
    return 'is unreachable';
  }

  get state(): 'closed' | 'open' | 'half-open' {
    switch (this.breaker.state) {
      case CircuitState.Open:
      case CircuitState.Isolated:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'closed';
    }
  }

  /** Seconds until the breaker lets a trial call through (at least 1; the half-open delay when not open). */
  retryAfterSeconds(): number {
    const halfOpen = this.settings.breakerHalfOpenAfterMs;
    const remaining = this.state === 'open' ? this.openedAt + halfOpen - Date.now() : halfOpen;
    return Math.max(1, Math.ceil(remaining / 1000));
  }

  /** The client-facing error for a transient failure of this dependency (what `execute` rejected with). */
  unavailable(error: unknown) {
    const cause = error instanceof TransientError && error.cause !== undefined ? error.cause : error;
    return serviceUnavailable(`${this.name} ${this.reason(cause)}; try again later`, this.retryAfterSeconds());
  }
}
