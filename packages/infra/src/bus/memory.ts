import {
  deadLetterSubject,
  deadLetterSubjects,
  DEFAULT_STREAM_LIMITS,
  replayMsgId,
  type BusEvent,
  type Consumer,
  type ConsumerSpec,
  type DeadLetter,
  type DeadLetterBody,
  type DeadLetterFilter,
  type EventBus,
  type EventSubscription,
  type StreamSpec,
} from './bus.ts';
import type { Logger } from '../logger.ts';
import { eventHandleDuration, eventRedeliveries, eventsHandled } from '../metrics/registry.ts';
import { eventTraceparent, withEventSpan } from '../tracing/tracing.ts';
import { consumerSettings, onFailure, type Tries } from './retry.ts';

/** NATS subject matching: `*` matches one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

interface StoredMessage {
  seq: number;
  subject: string;
  json: string;
  msgId?: string;
  /** When it was stored (ms): retries' give-up age, and the stream's age limit. */
  publishedAt: number;
}

/**
 * How much each stream keeps, like a JetStream stream's `max_msgs` and `max_age` with the default "limits"
 * retention and discard-old policy: the oldest messages go, even if a durable has not had them yet (it then skips
 * them, as a JetStream consumer would). Without a bound an embedded process would keep every event forever.
 */
export interface MemoryStreamLimits {
  maxMessages: number;
  maxAgeMs: number;
}
export const DEFAULT_MEMORY_STREAM_LIMITS: MemoryStreamLimits = { maxMessages: 100_000, maxAgeMs: 24 * 3_600_000 };

interface Stream {
  spec: StreamSpec;
  messages: StoredMessage[];
  /** Payload bytes held, for the stream's `maxBytes`. */
  bytes: number;
  recentIds: Map<string, number>;
  durables: Map<string, DurableState>;
}

/** An ephemeral subscriber: events wait in `buffered` until the iterator asks for them. */
interface Listener {
  pattern: string;
  buffered: BusEvent[];
  wake: (() => void) | null;
  ended: boolean;
}

interface Delivery {
  count: number;
  tries: Tries;
  notBefore: number;
}

/** Shared by every consumer of the durable (replicas in one process): each pending message goes to one of them. */
interface DurableState {
  filterSubject: string;
  /** Sequences not yet acknowledged, with their deliveries and failed tries. */
  pending: Map<number, Delivery>;
  /** Sequences a consumer is handling now. */
  inFlight: Set<number>;
  wakers: Set<() => void>;
}

const newDelivery = (): Delivery => ({ count: 0, tries: { poison: 0, transient: 0 }, notBefore: 0 });
const wakeAll = (durable: DurableState) => {
  for (const wake of durable.wakers) wake();
};

/**
 * In-process durable log with JetStream's semantics that the services rely on: msgId de-duplication within a
 * window, durable consumers that resume where they stopped (one message to one of the consumers of a durable),
 * explicit ack, the same retry and dead-letter rules (bus/retry.ts). No ack deadline: a consumer in this process
 * cannot die without the process.
 */
export class MemoryEventBus implements EventBus {
  private readonly streams = new Map<string, Stream>();
  private readonly listeners = new Set<Listener>();
  private seq = 0;
  private closed = false;

  constructor(
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly limits: MemoryStreamLimits = DEFAULT_MEMORY_STREAM_LIMITS,
  ) {
    if (!prefix) throw new Error('MemoryEventBus needs a subject prefix');
    if (!(limits.maxMessages >= 1 && limits.maxAgeMs >= 1)) throw new Error('MemoryEventBus limits must be positive');
  }

  /**
   * Drops what is over the stream's limits (this bus's and the stream's own: age, and bytes when it discards
   * old), oldest first; durables skip dropped sequences.
   */
  private trim(stream: Stream, now: number) {
    const { messages } = stream;
    const limits = stream.spec.limits ?? DEFAULT_STREAM_LIMITS;
    const maxAgeMs = Math.min(this.limits.maxAgeMs, limits.maxAgeMs);
    let drop = Math.max(0, messages.length - this.limits.maxMessages);
    while (drop < messages.length && now - messages[drop]!.publishedAt > maxAgeMs) drop++;
    let bytes = stream.bytes - messages.slice(0, drop).reduce((sum, m) => sum + m.json.length, 0);
    if (limits.discard === 'old') {
      while (drop < messages.length && bytes > limits.maxBytes) bytes -= messages[drop++]!.json.length;
    }
    if (drop === 0) return;
    stream.bytes = bytes;
    const dropped = messages.splice(0, drop);
    for (const durable of stream.durables.values()) for (const m of dropped) durable.pending.delete(m.seq);
  }

  async ensureStream(spec: StreamSpec) {
    const existing = this.streams.get(spec.name);
    if (existing) {
      existing.spec = spec;
      this.trim(existing, Date.now());
    } else this.streams.set(spec.name, { spec, messages: [], bytes: 0, recentIds: new Map(), durables: new Map() });
  }

  private streamFor(subject: string): Stream {
    for (const stream of this.streams.values()) {
      const patterns = [...stream.spec.subjects, deadLetterSubjects(stream.spec.name)];
      if (patterns.some((p) => subjectMatches(p, subject))) return stream;
    }
    throw new Error(`no stream captures subject ${this.prefix}.${subject}`);
  }

  async publish(subject: string, data: unknown, options: { msgId?: string } = {}) {
    this.publishJson(subject, JSON.stringify(data), options.msgId);
  }

  async announce(subject: string, data: unknown) {
    if (this.closed) throw new Error('event bus is closed');
    this.deliverToListeners(subject, JSON.stringify(data));
  }

  private deliverToListeners(subject: string, json: string, msgId?: string) {
    for (const listener of this.listeners) {
      if (!subjectMatches(listener.pattern, subject)) continue;
      let data: unknown;
      try {
        data = JSON.parse(json);
      } catch {
        continue;
      }
      listener.buffered.push({ subject, data, ...(msgId ? { msgId } : {}) });
      listener.wake?.();
    }
  }

  private publishJson(subject: string, json: string, msgId: string | undefined) {
    if (this.closed) throw new Error('event bus is closed');
    const stream = this.streamFor(subject);
    const now = Date.now();
    if (msgId) {
      const window = stream.spec.duplicateWindowMs ?? 2 * 60_000;
      for (const [id, at] of stream.recentIds) if (now - at > window) stream.recentIds.delete(id);
      if (stream.recentIds.has(msgId)) return;
      stream.recentIds.set(msgId, now);
    }
    const limits = stream.spec.limits ?? DEFAULT_STREAM_LIMITS;
    this.trim(stream, now);
    // JetStream's words, which isTransientError knows: the publisher retries until there is room.
    if (limits.discard === 'new' && stream.bytes + json.length > limits.maxBytes) {
      if (msgId) stream.recentIds.delete(msgId);
      throw new Error('maximum bytes exceeded');
    }
    const message: StoredMessage = { seq: ++this.seq, subject, json, msgId, publishedAt: now };
    stream.messages.push(message);
    stream.bytes += json.length;
    this.trim(stream, now);
    this.deliverToListeners(subject, json, msgId);
    for (const durable of stream.durables.values()) {
      if (subjectMatches(durable.filterSubject, subject)) {
        durable.pending.set(message.seq, newDelivery());
        wakeAll(durable);
      }
    }
  }

  async consume<T>(spec: ConsumerSpec<T>): Promise<Consumer> {
    const settings = consumerSettings(spec as ConsumerSpec<unknown>);
    const stream = this.streams.get(spec.stream);
    if (!stream) throw new Error(`stream ${spec.stream} does not exist`);
    let durable = stream.durables.get(spec.durable);
    if (!durable) {
      durable = { filterSubject: spec.filterSubject, pending: new Map(), inFlight: new Set(), wakers: new Set() };
      for (const m of stream.messages) {
        if (subjectMatches(spec.filterSubject, m.subject)) durable.pending.set(m.seq, newDelivery());
      }
      stream.durables.set(spec.durable, durable);
    }
    const state = durable;
    let running = true;
    const inFlight = new Map<number, { controller: AbortController; task: Promise<void> }>();
    const busyKeys = new Set<string>();
    /** Each message's ordering key, computed once (the scan below passes over waiting messages again). */
    const keys = new WeakMap<StoredMessage, string | undefined>();
    let wake: () => void = () => undefined;
    const waker = () => wake();
    state.wakers.add(waker);
    const keyOf = (message: StoredMessage): string | undefined => {
      if (!spec.orderingKey) return undefined;
      if (keys.has(message)) return keys.get(message);
      let key: string | undefined;
      try {
        key = spec.orderingKey({ subject: message.subject, data: JSON.parse(message.json) as T });
      } catch {
        // Unparseable: dead-lettered without a handler, so it waits for no key.
        key = undefined;
      }
      keys.set(message, key);
      return key;
    };
    const loop = (async () => {
      while (running && !this.closed) {
        const now = Date.now();
        let next: StoredMessage | undefined;
        let soonest = Infinity;
        if (inFlight.size < settings.concurrency) {
          for (const [seq, delivery] of state.pending) {
            if (state.inFlight.has(seq)) continue;
            if (delivery.notBefore > now) {
              soonest = Math.min(soonest, delivery.notBefore);
              continue;
            }
            const message = stream.messages.find((m) => m.seq === seq);
            if (!message) {
              state.pending.delete(seq);
              continue;
            }
            // Pending is in stream order: the first due message of a key free now is the next one of its key.
            const key = keyOf(message);
            if (key !== undefined && busyKeys.has(key)) continue;
            next = message;
            break;
          }
        }
        if (next === undefined) {
          // Woken by a publish, a message of this durable settled (here or in another consumer), or a retry due.
          await new Promise<void>((resolve) => {
            const timer = soonest < Infinity ? setTimeout(resolve, soonest - now) : undefined;
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = () => undefined;
          continue;
        }
        const message = next;
        const delivery = state.pending.get(message.seq)!;
        const key = keyOf(message);
        delivery.count++;
        state.inFlight.add(message.seq);
        if (key !== undefined) busyKeys.add(key);
        const controller = new AbortController();
        const task = this.handle(spec, settings, message, delivery, state, controller.signal)
          .catch((error: unknown) => this.logger.error({ err: error, durable: spec.durable }, 'event not settled'))
          .finally(() => {
            inFlight.delete(message.seq);
            if (key !== undefined) busyKeys.delete(key);
            state.inFlight.delete(message.seq);
            wakeAll(state);
          });
        inFlight.set(message.seq, { controller, task });
      }
      while (inFlight.size > 0) await Promise.all([...inFlight.values()].map((f) => f.task));
    })();
    return {
      stop: async () => {
        running = false;
        if (spec.abandonOnStop) for (const { controller } of inFlight.values()) controller.abort();
        state.wakers.delete(waker);
        wake();
        await loop;
      },
    };
  }

  private async handle<T>(
    spec: ConsumerSpec<T>,
    settings: ReturnType<typeof consumerSettings>,
    message: StoredMessage,
    delivery: Delivery,
    state: DurableState,
    signal: AbortSignal,
  ) {
    let data: T;
    try {
      data = JSON.parse(message.json) as T;
    } catch {
      delivery.tries.poison++;
      this.deadLetter(spec, message, state, { data: message.json, raw: true, reason: 'unparseable payload' }, delivery);
      return;
    }
    if (delivery.count > 1) eventRedeliveries.inc({ durable: spec.durable });
    const timer = eventHandleDuration.startTimer({ durable: spec.durable });
    try {
      const attributes = { durable: spec.durable, subject: message.subject };
      await withEventSpan(`consume ${spec.durable}`, eventTraceparent(data), attributes, () =>
        spec.handler({
          subject: message.subject,
          data,
          deliveryCount: delivery.count,
          lastTry: delivery.tries.poison + 1 >= settings.maxDeliver,
          signal,
        }),
      );
      timer();
      state.pending.delete(message.seq);
      eventsHandled.inc({ durable: spec.durable, outcome: 'acked' });
    } catch (error) {
      timer();
      // Abandoned by stop(): not a try; stays pending for the next consumer.
      if (signal.aborted) return;
      const outcome = onFailure(error, delivery.tries, settings, Date.now() - message.publishedAt);
      if (outcome.action === 'retry') {
        const log = { err: error, subject: message.subject, durable: spec.durable, tries: delivery.tries };
        if (outcome.alert) this.logger.error(log, 'event handler failing transiently for long; retrying');
        else this.logger.warn(log, 'event handler failed; will retry');
        delivery.notBefore = Date.now() + outcome.delayMs;
        eventsHandled.inc({
          durable: spec.durable,
          outcome: outcome.transient ? 'retried_transient' : 'retried_poison',
        });
        return;
      }
      this.deadLetter(spec, message, state, { data, reason: outcome.reason }, delivery);
    }
  }

  private deadLetter<T>(
    spec: ConsumerSpec<T>,
    message: StoredMessage,
    state: DurableState,
    letter: { data: unknown; raw?: boolean; reason: string },
    delivery: Delivery,
  ) {
    const body: DeadLetterBody = {
      subject: message.subject,
      ...letter,
      deadLetteredAt: new Date().toISOString(),
      tries: delivery.tries,
      msgId: message.msgId,
      sequence: message.seq,
    };
    this.logger.error(
      { subject: message.subject, durable: spec.durable, reason: letter.reason, tries: delivery.tries },
      'event dead-lettered',
    );
    this.publishJson(deadLetterSubject(spec.stream, spec.durable), JSON.stringify(body), undefined);
    state.pending.delete(message.seq);
    eventsHandled.inc({ durable: spec.durable, outcome: 'dead_lettered' });
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for (const stream of this.streams.values()) {
      const name = stream.spec.name;
      if (filter.stream && filter.stream !== name) continue;
      const pattern = filter.durable ? deadLetterSubject(name, filter.durable) : deadLetterSubjects(name);
      for (const m of stream.messages) {
        if (!subjectMatches(pattern, m.subject)) continue;
        const durable = m.subject.slice(`dlq.${name}.`.length);
        letters.push({ ...(JSON.parse(m.json) as DeadLetterBody), id: m.seq, stream: name, durable });
      }
    }
    return letters;
  }

  async replayDeadLetter(stream: string, id: number): Promise<boolean> {
    const found = this.deadLetterAt(stream, id);
    if (!found) return false;
    const json = found.body.raw ? String(found.body.data) : JSON.stringify(found.body.data);
    this.publishJson(found.body.subject, json, replayMsgId(stream, id));
    this.removeMessage(found.stream, id);
    return true;
  }

  async dropDeadLetter(stream: string, id: number): Promise<boolean> {
    const found = this.deadLetterAt(stream, id);
    if (!found) return false;
    this.removeMessage(found.stream, id);
    return true;
  }

  private deadLetterAt(name: string, id: number) {
    const stream = this.streams.get(name);
    const message = stream?.messages.find((m) => m.seq === id);
    if (!stream || !message || !subjectMatches(deadLetterSubjects(name), message.subject)) return null;
    return { stream, body: JSON.parse(message.json) as DeadLetterBody };
  }

  private removeMessage(stream: Stream, seq: number) {
    const removed = stream.messages.find((m) => m.seq === seq);
    if (removed) stream.bytes -= removed.json.length;
    stream.messages = stream.messages.filter((m) => m.seq !== seq);
    for (const durable of stream.durables.values()) durable.pending.delete(seq);
  }

  async subscribe<T>(subject: string): Promise<EventSubscription<T>> {
    const listener: Listener = { pattern: subject, buffered: [], wake: null, ended: false };
    this.listeners.add(listener);
    const end = () => {
      listener.ended = true;
      this.listeners.delete(listener);
      listener.wake?.();
    };
    async function* events(): AsyncGenerator<BusEvent<T>> {
      while (true) {
        const next = listener.buffered.shift();
        if (next) {
          yield next as BusEvent<T>;
          continue;
        }
        if (listener.ended) return;
        await new Promise<void>((resolve) => (listener.wake = resolve));
        listener.wake = null;
      }
    }
    const iterator = events();
    return { [Symbol.asyncIterator]: () => iterator, unsubscribe: end };
  }

  async ping() {
    if (this.closed) throw new Error('event bus is closed');
  }

  async close() {
    this.closed = true;
    for (const listener of this.listeners) {
      listener.ended = true;
      listener.wake?.();
    }
    this.listeners.clear();
    for (const stream of this.streams.values()) for (const d of stream.durables.values()) wakeAll(d);
  }
}
