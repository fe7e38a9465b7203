/**
 * The durable event port (NATS JetStream in production, an in-process log in embedded mode), plus ephemeral
 * fan-out subscriptions (`subscribe`) for listeners that need no durable state, such as the gateway's
 * GraphQL subscriptions. Both adapters pass the one contract suite in test/bus.contract.test.ts. Subjects and stream names are given without the
 * adapter's required prefix, so two deployments sharing a NATS server never share streams by accident.
 */
export interface BusMessage<T = unknown> {
  subject: string;
  data: T;
  /** 1 on first delivery, 2+ on redelivery. */
  deliveryCount: number;
}

export interface StreamSpec {
  name: string;
  /** Subjects (wildcards allowed) captured by the stream, without prefix. */
  subjects: string[];
  /** Publishes with the same msgId inside this window are stored once. */
  duplicateWindowMs?: number;
}

export interface ConsumerSpec<T> {
  stream: string;
  durable: string;
  filterSubject: string;
  /** Deliveries before a failing message is dead-lettered to `dlq.<stream>.<durable>`. */
  maxDeliver: number;
  /** Delay before a failed message is redelivered. */
  retryDelayMs?: number;
  /** How long a delivered message may stay unacknowledged before it is redelivered. */
  ackWaitMs?: number;
  /** Resolve to acknowledge; throw to have the message redelivered (or dead-lettered when out of tries). */
  handler: (message: BusMessage<T>) => Promise<void>;
}

export interface Consumer {
  stop(): Promise<void>;
}

/** An event seen by an ephemeral subscription. */
export interface BusEvent<T = unknown> {
  subject: string;
  data: T;
}

/**
 * Every event published from now on whose subject matches, to every subscriber (no acknowledgement, no replay,
 * no redelivery). Iterate it once; `unsubscribe()` ends the iteration.
 */
export interface EventSubscription<T> extends AsyncIterable<BusEvent<T>> {
  unsubscribe(): void;
}

export interface EventBus {
  ensureStream(spec: StreamSpec): Promise<void>;
  publish(subject: string, data: unknown, options?: { msgId?: string }): Promise<void>;
  consume<T>(spec: ConsumerSpec<T>): Promise<Consumer>;
  /** Ephemeral fan-out: resolves once the subscription is registered, so a later publish reaches it. */
  subscribe<T>(subject: string): Promise<EventSubscription<T>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const deadLetterSubject = (stream: string, durable: string) => `dlq.${stream}.${durable}`;
/** Every stream also captures its own dead letters, so they stay inspectable with the stream. */
export const deadLetterSubjects = (stream: string) => `dlq.${stream}.>`;
