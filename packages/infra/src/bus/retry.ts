import { backoffDelayMs, isTransientError } from '../failures.ts';
import type { ConsumerSpec } from './bus.ts';

/** Failed tries of one message, by failure class (ADR 9). */
export interface Tries {
  poison: number;
  transient: number;
}

export type ConsumerSettings = Required<
  Pick<
    ConsumerSpec<unknown>,
    | 'maxDeliver'
    | 'retryDelayMs'
    | 'maxRetryDelayMs'
    | 'maxAgeMs'
    | 'alertAfterMs'
    | 'ackWaitMs'
    | 'prefetch'
    | 'concurrency'
  >
>;

const HOUR_MS = 3_600_000;

export function consumerSettings(spec: ConsumerSpec<unknown>): ConsumerSettings {
  const concurrency = Math.max(1, Math.floor(spec.concurrency ?? 1));
  return {
    maxDeliver: Math.max(1, spec.maxDeliver),
    retryDelayMs: spec.retryDelayMs ?? 500,
    maxRetryDelayMs: spec.maxRetryDelayMs ?? 10_000,
    maxAgeMs: spec.maxAgeMs ?? 24 * HOUR_MS,
    alertAfterMs: spec.alertAfterMs ?? 60_000,
    ackWaitMs: spec.ackWaitMs ?? 15_000,
    // A consumer cannot run more messages than it holds.
    prefetch: Math.max(concurrency, spec.prefetch ?? 4),
    concurrency,
  };
}

export type FailureOutcome =
  | { action: 'retry'; delayMs: number; transient: boolean; alert: boolean }
  | { action: 'dead-letter'; reason: string };

/** A failure as the dead letter and the logs show it. */
export function describeFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 1_000);
}

/**
 * Counts one failed try in `tries` and decides what happens to the message. Transient: retried with backoff
 * and jitter, growing with the transient tries, until the message is `maxAgeMs` old. Poison: retried (with
 * backoff) until it has failed `maxDeliver` times on its content, whatever its transient history.
 */
export function onFailure(error: unknown, tries: Tries, settings: ConsumerSettings, ageMs: number): FailureOutcome {
  if (isTransientError(error)) {
    tries.transient++;
    if (ageMs >= settings.maxAgeMs) {
      return {
        action: 'dead-letter',
        reason: `failing transiently for ${Math.round(ageMs / 60_000)} min (maxAge): ${describeFailure(error)}`,
      };
    }
    return {
      action: 'retry',
      delayMs: backoffDelayMs(tries.transient, settings.retryDelayMs, settings.maxRetryDelayMs),
      transient: true,
      alert: ageMs >= settings.alertAfterMs,
    };
  }
  tries.poison++;
  if (tries.poison >= settings.maxDeliver) return { action: 'dead-letter', reason: describeFailure(error) };
  return {
    action: 'retry',
    delayMs: backoffDelayMs(tries.poison, settings.retryDelayMs, settings.maxRetryDelayMs),
    transient: false,
    alert: false,
  };
}

/**
 * The tries of the messages a consumer process saw fail, by stream sequence. JetStream's delivery count mixes
 * transient retries with poison ones, so the classes are counted here. In process: after a restart, or on
 * another replica, a message's count starts again, so a poison message may get more than `maxDeliver` tries
 * (never fewer). Bounded: the oldest entries go first.
 */
export class TryLedger {
  private readonly entries = new Map<number, Tries>();

  constructor(private readonly capacity = 10_000) {}

  peek(sequence: number): Tries {
    return this.entries.get(sequence) ?? { poison: 0, transient: 0 };
  }

  record(sequence: number, tries: Tries): void {
    this.entries.delete(sequence);
    this.entries.set(sequence, tries);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(sequence: number): void {
    this.entries.delete(sequence);
  }
}
