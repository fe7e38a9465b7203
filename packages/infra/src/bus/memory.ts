import {
  deadLetterSubject,
  deadLetterSubjects,
  type BusEvent,
  type Consumer,
  type ConsumerSpec,
  type EventBus,
  type EventSubscription,
  type StreamSpec,
} from './bus.ts';
import type { Logger } from '../logger.ts';

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
  /** When it was stored (ms), for the age limit. */
  at: number;
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

interface DurableState {
  filterSubject: string;
  /** Sequences not yet acknowledged, with how often each was delivered. */
  pending: Map<number, number>;
  wake: (() => void) | null;
}

/**
 * In-process durable log with JetStream's semantics that the services rely on: msgId de-duplication within a
 * window, durable consumers that resume where they stopped, explicit ack, redelivery on failure, dead letters.
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

  /** Drops what is over the stream's limits, oldest first; durables skip dropped sequences. */
  private trim(stream: Stream, now: number) {
    const { messages } = stream;
    let drop = Math.max(0, messages.length - this.limits.maxMessages);
    while (drop < messages.length && now - messages[drop]!.at > this.limits.maxAgeMs) drop++;
    if (drop === 0) return;
    const dropped = messages.splice(0, drop);
    for (const durable of stream.durables.values()) for (const m of dropped) durable.pending.delete(m.seq);
  }

  async ensureStream(spec: StreamSpec) {
    const existing = this.streams.get(spec.name);
    if (existing) existing.spec = spec;
    else this.streams.set(spec.name, { spec, messages: [], recentIds: new Map(), durables: new Map() });
  }

  private streamFor(subject: string): Stream {
    for (const stream of this.streams.values()) {
      const patterns = [...stream.spec.subjects, deadLetterSubjects(stream.spec.name)];
      if (patterns.some((p) => subjectMatches(p, subject))) return stream;
    }
    throw new Error(`no stream captures subject ${this.prefix}.${subject}`);
  }

  async publish(subject: string, data: unknown, options: { msgId?: string } = {}) {
    if (this.closed) throw new Error('event bus is closed');
    const stream = this.streamFor(subject);
    const now = Date.now();
    if (options.msgId) {
      const window = stream.spec.duplicateWindowMs ?? 2 * 60_000;
      for (const [id, at] of stream.recentIds) if (now - at > window) stream.recentIds.delete(id);
      if (stream.recentIds.has(options.msgId)) return;
      stream.recentIds.set(options.msgId, now);
    }
    const message: StoredMessage = { seq: ++this.seq, subject, json: JSON.stringify(data), at: now };
    stream.messages.push(message);
    this.trim(stream, now);
    for (const listener of this.listeners) {
      if (!subjectMatches(listener.pattern, subject)) continue;
      listener.buffered.push({ subject, data: JSON.parse(message.json) as unknown });
      listener.wake?.();
    }
    for (const durable of stream.durables.values()) {
      if (subjectMatches(durable.filterSubject, subject)) {
        durable.pending.set(message.seq, 0);
        durable.wake?.();
      }
    }
  }

  async consume<T>(spec: ConsumerSpec<T>): Promise<Consumer> {
    const stream = this.streams.get(spec.stream);
    if (!stream) throw new Error(`stream ${spec.stream} does not exist`);
    let durable = stream.durables.get(spec.durable);
    if (!durable) {
      durable = { filterSubject: spec.filterSubject, pending: new Map(), wake: null };
      for (const m of stream.messages) if (subjectMatches(spec.filterSubject, m.subject)) durable.pending.set(m.seq, 0);
      stream.durables.set(spec.durable, durable);
    }
    const state = durable;
    let running = true;
    const notBefore = new Map<number, number>();
    const loop = (async () => {
      while (running) {
        const now = Date.now();
        let next: number | undefined;
        let soonest = Infinity;
        for (const seq of state.pending.keys()) {
          const at = notBefore.get(seq) ?? 0;
          if (at <= now) {
            next = seq;
            break;
          }
          soonest = Math.min(soonest, at);
        }
        if (next === undefined) {
          await new Promise<void>((resolve) => {
            const timer = soonest < Infinity ? setTimeout(resolve, soonest - now) : undefined;
            state.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          state.wake = null;
          continue;
        }
        const message = stream.messages.find((m) => m.seq === next);
        if (!message) {
          state.pending.delete(next);
          continue;
        }
        const deliveryCount = (state.pending.get(next) ?? 0) + 1;
        state.pending.set(next, deliveryCount);
        const data = JSON.parse(message.json) as T;
        try {
          await spec.handler({ subject: message.subject, data, deliveryCount });
          state.pending.delete(next);
          notBefore.delete(next);
        } catch (error) {
          if (deliveryCount >= spec.maxDeliver) {
            this.logger.error({ subject: message.subject, durable: spec.durable }, 'event dead-lettered');
            state.pending.delete(next);
            notBefore.delete(next);
            await this.publish(deadLetterSubject(spec.stream, spec.durable), {
              subject: message.subject,
              data,
              reason: String(error),
            });
          } else {
            notBefore.set(next, Date.now() + (spec.retryDelayMs ?? 1_000));
          }
        }
      }
    })();
    return {
      stop: async () => {
        running = false;
        state.wake?.();
        await loop;
      },
    };
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
    for (const stream of this.streams.values()) for (const d of stream.durables.values()) d.wake?.();
  }
}
