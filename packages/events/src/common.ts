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
}

/** JetStream drops a message whose msgId it has seen within this window; the outbox republishes well inside it. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
