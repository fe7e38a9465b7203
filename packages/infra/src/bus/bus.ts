/**
 * The durable event port (NATS JetStream in production, an in-process log in embedded mode), plus ephemeral
 * fan-out subscriptions (`subscribe`) for listeners that need no durable state, such as the gateway's
 * GraphQL subscriptions. Both adapters pass the one contract suite in test/bus.contract.test.ts. Subjects and
 * stream names are given without the adapter's required prefix, so two deployments sharing a NATS server never
 * share streams by accident. Failure handling (ADR 9): a handler error that `isTransientError` recognises is
 * retried with backoff until `maxAgeMs`; any other error is poison and dead-lettered after `maxDeliver` tries.
 */
export interface BusMessage<T = unknown> {
  subject: string;
  data: T;
  /** 1 on first delivery, 2+ on redelivery (transient retries and redeliveries after a crash included). */
  deliveryCount: number;
  /** If this try fails on the message's content (poison), the message is dead-lettered instead of retried. */
  lastTry: boolean;
  /** Aborted when a consumer with `abandonOnStop` is stopped while this message is being handled. */
  signal: AbortSignal;
}

export interface StreamSpec {
  name: string;
  /** Subjects (wildcards allowed) captured by the stream, without prefix. */
  subjects: string[];
  /** Publishes with the same msgId inside this window are stored once. */
  duplicateWindowMs?: number;
  /** Retention, applied when the stream is created and on every later `ensureStream`; default DEFAULT_STREAM_LIMITS. */
  limits?: StreamLimits;
}

/**
 * What a stream keeps: messages older than `maxAgeMs` go; past `maxBytes` either the oldest go (`discard: 'old'`)
 * or a publish is refused (`'new'`: the publisher retries, nothing unread is dropped for space).
 */
export interface StreamLimits {
  maxAgeMs: number;
  maxBytes: number;
  discard: 'old' | 'new';
}

/** For streams declared without limits (tests, tools): a day, 256 MiB, oldest dropped first. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxAgeMs: 86_400_000, maxBytes: 256 * 2 ** 20, discard: 'old' };

export interface ConsumerSpec<T> {
  stream: string;
  durable: string;
  filterSubject: string;
  /**
   * Tries of a message whose handler fails on its content (any error `isTransientError` does not recognise)
   * before it is dead-lettered to `dlq.<stream>.<durable>`. Transient failures do not count.
   */
  maxDeliver: number;
  /** First retry delay; later ones grow exponentially with full jitter up to `maxRetryDelayMs`. Default 500 ms. */
  retryDelayMs?: number;
  /** Default 10 s: after an outage every message is retried within 10 s of the service being back. */
  maxRetryDelayMs?: number;
  /**
   * A message still failing transiently this long after it was published is dead-lettered after all (so it
   * can be replayed, rather than retried forever). Default 24 h.
   */
  maxAgeMs?: number;
  /** Transient failures of a message older than this are logged as errors (an outage to look at). Default 60 s. */
  alertAfterMs?: number;
  /**
   * How long a delivered message may stay unacknowledged before it is redelivered (to another replica). The
   * adapter reports progress while the handler runs, so this bounds how long a crashed process holds a message,
   * not how long a handler may take. Default 15 s.
   */
  ackWaitMs?: number;
  /**
   * Messages a consumer fetches ahead of those it handles (JetStream's pull batch); also the most it holds
   * taken, that is being handled or waiting for their key (`orderingKey`). Default 4, never fewer than
   * `concurrency`.
   */
  prefetch?: number;
  /**
   * Messages one consumer handles at once. Default 1: one at a time, in stream order. Above 1, give an
   * `orderingKey` unless the handler tolerates any order.
   */
  concurrency?: number;
  /**
   * With `concurrency` above 1: the first deliveries of messages with the same key are handled one at a time, in
   * stream order (each starts once the one before it has been acknowledged, retried or dead-lettered); messages
   * with different keys run side by side. A retried message does not hold its key: it comes back after its
   * backoff, possibly after later messages of its key (as it does with concurrency 1). The order holds within one
   * consumer, not across the replicas sharing a durable. Called with the parsed payload; it must not throw.
   */
  orderingKey?: (message: { subject: string; data: T }) => string;
  /**
   * For jobs longer than a shutdown grace (media transcodes): `stop()` aborts the message's `signal` instead of
   * waiting for the handler, and a handler that then fails hands the message back at once, without counting a
   * try, for another consumer to start over.
   */
  abandonOnStop?: boolean;
  /** Resolve to acknowledge; throw to have the message retried or dead-lettered (see above). */
  handler: (message: BusMessage<T>) => Promise<void>;
}

export interface Consumer {
  /**
   * Finishes the messages being handled (or, with `abandonOnStop`, aborts them and hands them back), hands the
   * ones not started (fetched ahead, or waiting for their key) back at once, and stops.
   */
  stop(): Promise<void>;
}

/** An event seen by an ephemeral subscription. */
export interface BusEvent<T = unknown> {
  subject: string;
  data: T;
  /**
   * The msgId it was published with. Plain subscribers see a republish (same msgId) again even when the stream
   * dropped it as a duplicate: what a listener de-duplicates by.
   */
  msgId?: string;
}

/**
 * Every event published from now on whose subject matches, to every subscriber (no acknowledgement, no replay,
 * no redelivery). Iterate it once; `unsubscribe()` ends the iteration.
 */
export interface EventSubscription<T> extends AsyncIterable<BusEvent<T>> {
  unsubscribe(): void;
}

export interface SubscribeOptions {
  /**
   * Told when this subscription may miss events: `lost` when the connection to the broker dropped (what is
   * published meanwhile never reaches it), `restored` once it is subscribed again. Whoever keeps state from the
   * events (a cache invalidated by them) must then assume it missed some. The memory bus, in one process, never
   * loses its subscribers and never calls it.
   */
  onGap?: (state: 'lost' | 'restored') => void;
}

/** What a dead letter records (its body on `dlq.<stream>.<durable>`). */
export interface DeadLetterBody {
  /** The original subject, without prefix. */
  subject: string;
  /** The original payload; for an unparseable one, its text (and `raw` is true). */
  data: unknown;
  raw?: boolean;
  reason: string;
  deadLetteredAt: string;
  /** Failed tries by class: the poison ones count towards maxDeliver, the transient ones towards maxAge. */
  tries: { poison: number; transient: number };
  /** The original message's msgId, if it was published with one. */
  msgId?: string;
  /** The original message's sequence in its stream. */
  sequence: number;
}

export interface DeadLetter extends DeadLetterBody {
  /** The dead letter's own sequence in the stream: what replay and drop take. */
  id: number;
  stream: string;
  durable: string;
}

export interface DeadLetterFilter {
  stream?: string;
  durable?: string;
}

export interface EventBus {
  ensureStream(spec: StreamSpec): Promise<void>;
  publish(subject: string, data: unknown, options?: { msgId?: string }): Promise<void>;
  /**
   * Ephemeral publish: reaches the `subscribe`rs listening now and is stored nowhere (no stream may capture the
   * subject), for signals only live listeners care about. Resolves once the broker has it.
   */
  announce(subject: string, data: unknown): Promise<void>;
  consume<T>(spec: ConsumerSpec<T>): Promise<Consumer>;
  /** Ephemeral fan-out: resolves once the subscription is registered, so a later publish reaches it. */
  subscribe<T>(subject: string, options?: SubscribeOptions): Promise<EventSubscription<T>>;
  /** Dead letters of every stream of this deployment (or of one stream / durable), oldest first. */
  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /**
   * Publishes the original event again to its original subject (msgId `replay:<stream>:<id>`, so replaying
   * one dead letter twice stores it once), then deletes the dead letter. False if there is no such dead letter.
   */
  replayDeadLetter(stream: string, id: number): Promise<boolean>;
  /** Deletes a dead letter. False if there is no such dead letter. */
  dropDeadLetter(stream: string, id: number): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const deadLetterSubject = (stream: string, durable: string) => `dlq.${stream}.${durable}`;
/** Every stream also captures its own dead letters, so they stay inspectable with the stream. */
export const deadLetterSubjects = (stream: string) => `dlq.${stream}.>`;
export const replayMsgId = (stream: string, id: number) => `replay:${stream}:${id}`;
