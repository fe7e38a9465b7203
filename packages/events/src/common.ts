/** Fields every event carries (added by the outbox when the event is written). */
export interface EventEnvelope {
  /** Unique per event; also the JetStream msgId, so a republish is dropped as a duplicate. */
  eventId: string;
  /** ISO-8601 time of the change (the commit of the transaction that wrote the event). */
  occurredAt: string;
}

/** A stream owned by one subgraph: every subject it publishes starts with `<prefix>.`. */
export interface StreamDefinition {
  name: string;
  subjects: string[];
  duplicateWindowMs: number;
  /** What the stream keeps (JetStream `max_age`, `max_bytes`, `discard`), applied on every start (ADR 18). */
  limits: StreamLimits;
}

/**
 * Retention of a stream. `discard: 'new'` refuses a publish while the stream is full (the outbox keeps the event
 * and retries, so nothing a consumer still needs is dropped for space); `'old'` drops the oldest messages, for
 * streams whose messages are worth nothing once their moment passed.
 */
export interface StreamLimits {
  maxAgeMs: number;
  maxBytes: number;
  discard: 'old' | 'new';
}

const DAY_MS = 86_400_000;
const MiB = 2 ** 20;

/**
 * Streams of domain events written by an outbox and read by durable consumers. A consumer retries a failing
 * message for up to 24 h (ADR 9) and a replica that missed more than a week rebuilds from its owner (ADR 18), so
 * a week is kept; past 1 GiB publishes wait (the outbox holds the events) rather than drop unread ones.
 */
export const DOMAIN_STREAM_LIMITS: StreamLimits = { maxAgeMs: 7 * DAY_MS, maxBytes: 1024 * MiB, discard: 'new' };

/** JetStream drops a message whose msgId it has seen within this window; the outbox republishes well inside it. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
