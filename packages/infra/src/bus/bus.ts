/**
 * The durable event port (NATS JetStream in production, an in-process log in embedded mode). Both adapters
 * pass the one contract suite in test/bus.contract.ts. Subjects and stream names are given without the
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

export interface EventBus {
  ensureStream(spec: StreamSpec): Promise<void>;
  publish(subject: string, data: unknown, options?: { msgId?: string }): Promise<void>;
  consume<T>(spec: ConsumerSpec<T>): Promise<Consumer>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const deadLetterSubject = (stream: string, durable: string) => `dlq.${stream}.${durable}`;
/** Every stream also captures its own dead letters, so they stay inspectable with the stream. */
export const deadLetterSubjects = (stream: string) => `dlq.${stream}.>`;
