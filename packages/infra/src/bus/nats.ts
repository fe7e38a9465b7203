import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { backoffDelayMs, isTransientError } from '../failures.ts';
import type { Logger } from '../logger.ts';
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
  type SubscribeOptions,
} from './bus.ts';
import {
  addConsumerPendingSource,
  eventHandleDuration,
  eventRedeliveries,
  eventsHandled,
} from '../metrics/registry.ts';
import { eventTraceparent, withEventSpan } from '../tracing/tracing.ts';
import { KeyedDispatcher } from './ordering.ts';
import { consumerSettings, onFailure, TryLedger, type ConsumerSettings } from './retry.ts';

export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({ servers: url, name, maxReconnectAttempts: -1 });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message a consumer holds: being handled, or waiting for a free slot or for its key. */
interface Held<T> {
  msg: JsMsg;
  /** Without the prefix. */
  subject: string;
  parsed: { ok: true; data: T } | { ok: false; text: string };
  heartbeat: ReturnType<typeof setInterval>;
}

/**
 * `NATS_STREAM_MAX_BYTES` (optional, bytes): a ceiling on every stream's `max_bytes`. JetStream reserves each file
 * stream's `max_bytes` out of the server's storage when the stream is created, so on a server shared by many
 * deployments (tests and benches, each under its own prefix, or development) the production limits (1 GiB per
 * domain stream) exhaust it after a few hundred streams (`insufficient storage resources available`). Production
 * leaves it unset. Read once per process, when the first bus is made.
 */
export function streamBytesCeilingFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.NATS_STREAM_MAX_BYTES;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1024) {
    throw new Error(
      `NATS_STREAM_MAX_BYTES must be a whole number of bytes, at least 1024 (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

let envCeiling: { value: number | undefined } | undefined;
const streamBytesCeilingOfProcess = () => (envCeiling ??= { value: streamBytesCeilingFromEnv() }).value;

export interface NatsEventBusOptions {
  /** Caps every stream's `max_bytes` (default: `NATS_STREAM_MAX_BYTES`, unset = the streams' own limits). */
  streamBytesCeiling?: number;
}

export class NatsEventBus implements EventBus {
  private readonly js: JetStreamClient;
  private jsm: JetStreamManager | undefined;
  /** The ceiling on every stream's `max_bytes` (see `streamBytesCeilingFromEnv`), if any. */
  readonly streamBytesCeiling: number | undefined;
  private readonly gapListeners = new Set<NonNullable<SubscribeOptions['onGap']>>();
  private watchingConnection = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly logger: Logger,
    options: NatsEventBusOptions = {},
  ) {
    if (!prefix) throw new Error('NatsEventBus needs a subject prefix');
    this.js = jetstream(nc);
    this.streamBytesCeiling = options.streamBytesCeiling ?? streamBytesCeilingOfProcess();
  }

  /** The `max_bytes` a stream with these limits gets on this bus. */
  maxBytesOf(limits: { maxBytes: number }): number {
    return Math.min(limits.maxBytes, this.streamBytesCeiling ?? Number.POSITIVE_INFINITY);
  }

  private streamName(name: string) {
    return `${this.prefix}_${name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  private async manager() {
    this.jsm ??= await jetstreamManager(this.nc);
    return this.jsm;
  }

  /**
   * Creates the stream, or updates an existing one to this spec: subjects, duplicate window and retention limits
   * (an older stream without limits gets them; JetStream then drops what is over them). Only settings NATS 2.9
   * can change on a live stream are used.
   */
  async ensureStream(spec: StreamSpec) {
    const jsm = await this.manager();
    const limits = spec.limits ?? DEFAULT_STREAM_LIMITS;
    const config = {
      subjects: [...spec.subjects, deadLetterSubjects(spec.name)].map((s) => `${this.prefix}.${s}`),
      duplicate_window: nanos(spec.duplicateWindowMs ?? 2 * 60_000),
      max_age: nanos(limits.maxAgeMs),
      max_bytes: this.maxBytesOf(limits),
      discard: limits.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
    };
    const name = this.streamName(spec.name);
    let exists = true;
    try {
      await jsm.streams.info(name);
    } catch (error) {
      if (isTransientError(error)) throw error;
      exists = false;
    }
    if (exists) await jsm.streams.update(name, config);
    else await jsm.streams.add({ name, ...config });
  }

  async publish(subject: string, data: unknown, options: { msgId?: string } = {}) {
    await this.js.publish(`${this.prefix}.${subject}`, encoder.encode(JSON.stringify(data)), {
      ...(options.msgId ? { msgID: options.msgId } : {}),
    });
  }

  async announce(subject: string, data: unknown) {
    this.nc.publish(`${this.prefix}.${subject}`, encoder.encode(JSON.stringify(data)));
    await this.nc.flush();
  }

  async consume<T>(spec: ConsumerSpec<T>): Promise<Consumer> {
    const settings = consumerSettings(spec as ConsumerSpec<unknown>);
    const jsm = await this.manager();
    const stream = this.streamName(spec.stream);
    const consumerConfig = {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: `${this.prefix}.${spec.filterSubject}`,
      // Tries are counted per failure class here, not by the server (ADR 9): a transient failure never uses up
      // a message's deliveries.
      max_deliver: -1,
      ack_wait: nanos(settings.ackWaitMs),
    };
    let exists = true;
    try {
      await jsm.consumers.info(stream, spec.durable);
    } catch (error) {
      if (isTransientError(error)) throw error;
      exists = false;
    }
    // An existing durable takes the new settings (one created with a server-side max_deliver loses it).
    if (exists) await jsm.consumers.update(stream, spec.durable, consumerConfig);
    else await jsm.consumers.add(stream, consumerConfig);
    const consumer = await this.js.consumers.get(stream, spec.durable);
    const messages = await consumer.consume({ max_messages: settings.prefetch });
    const ledger = new TryLedger();
    const stopReporting = addConsumerPendingSource(spec.durable, async () => {
      const info = await jsm.consumers.info(stream, spec.durable);
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    });
    let stopping = false;
    const inFlight = new Set<AbortController>();
    const dispatcher = new KeyedDispatcher<Held<T>>(settings.concurrency, async (held) => {
      const controller = new AbortController();
      inFlight.add(controller);
      try {
        await this.handle(spec, settings, ledger, held, controller.signal);
      } finally {
        inFlight.delete(controller);
        clearInterval(held.heartbeat);
      }
    });
    const done = (async () => {
      try {
        for await (const msg of messages) {
          // Fetched ahead but not started: back to the server at once, for another consumer to take.
          if (stopping) {
            this.settle(() => msg.nak());
            continue;
          }
          const held = this.hold<T>(msg, settings);
          dispatcher.add(this.keyOf(spec, held), held);
          // The next message only while a slot is free (with concurrency 1: once this one is settled), and no
          // more held than the prefetch: those waiting for their key count too.
          while ((dispatcher.full || dispatcher.held >= settings.prefetch) && !stopping) {
            await dispatcher.nextChange();
          }
        }
      } catch (error) {
        // Only a closed connection ends the iteration this way; its messages are redelivered after the ack wait.
        this.logger.error({ err: error, durable: spec.durable }, 'event consumer ended');
      }
      await dispatcher.drained();
    })();
    return {
      stop: async () => {
        stopping = true;
        stopReporting();
        // No more pulls first: a message handed back while this consumer still pulls could come straight back to it.
        messages.stop();
        for (const held of dispatcher.takeWaiting()) {
          clearInterval(held.heartbeat);
          this.settle(() => held.msg.nak());
        }
        if (spec.abandonOnStop) for (const controller of inFlight) controller.abort();
        await done;
      },
    };
  }

  /**
   * A message taken from the server: parsed once, and reporting progress from now until it is settled, so one
   * waiting behind others of its key keeps its place as one being handled does.
   */
  private hold<T>(msg: JsMsg, settings: ConsumerSettings): Held<T> {
    const text = decoder.decode(msg.data);
    let parsed: Held<T>['parsed'];
    try {
      parsed = { ok: true, data: JSON.parse(text) as T };
    } catch {
      parsed = { ok: false, text };
    }
    const heartbeat = setInterval(
      () => this.settle(() => msg.working()),
      Math.max(500, Math.floor(settings.ackWaitMs / 3)),
    );
    return { msg, subject: msg.subject.slice(this.prefix.length + 1), parsed, heartbeat };
  }

  /** The message's ordering key; none for an unparseable payload (it is dead-lettered without a handler). */
  private keyOf<T>(spec: ConsumerSpec<T>, held: Held<T>): string | undefined {
    if (!spec.orderingKey || !held.parsed.ok) return undefined;
    try {
      return spec.orderingKey({ subject: held.subject, data: held.parsed.data });
    } catch (error) {
      this.logger.error({ err: error, durable: spec.durable, subject: held.subject }, 'ordering key failed; unordered');
      return undefined;
    }
  }

  /** One message: handled, then acknowledged, retried or dead-lettered. Never throws. */
  private async handle<T>(
    spec: ConsumerSpec<T>,
    settings: ConsumerSettings,
    ledger: TryLedger,
    held: Held<T>,
    signal: AbortSignal,
  ) {
    const { msg, subject, parsed } = held;
    const sequence = msg.info.streamSequence;
    const tries = ledger.peek(sequence);
    const ageMs = Date.now() - Number(msg.timestampNanos / 1_000_000n);
    if (!parsed.ok) {
      await this.deadLetterAndAck(spec, settings, ledger, msg, {
        subject,
        data: parsed.text,
        raw: true,
        reason: 'unparseable payload',
        tries: { ...tries, poison: tries.poison + 1 },
      });
      return;
    }
    const { data } = parsed;
    if (msg.info.deliveryCount > 1) eventRedeliveries.inc({ durable: spec.durable });
    const timer = eventHandleDuration.startTimer({ durable: spec.durable });
    try {
      await withEventSpan(`consume ${spec.durable}`, eventTraceparent(data), { durable: spec.durable, subject }, () =>
        spec.handler({
          subject,
          data,
          deliveryCount: msg.info.deliveryCount,
          lastTry: tries.poison + 1 >= settings.maxDeliver,
          signal,
        }),
      );
      timer();
      this.settle(() => msg.ack());
      eventsHandled.inc({ durable: spec.durable, outcome: 'acked' });
      ledger.forget(sequence);
      return;
    } catch (error) {
      timer();
      if (signal.aborted) {
        // Abandoned by stop(): not a try; another consumer starts it over now.
        this.settle(() => msg.nak());
        return;
      }
      const outcome = onFailure(error, tries, settings, ageMs);
      if (outcome.action === 'retry') {
        ledger.record(sequence, tries);
        const log = { err: error, subject, durable: spec.durable, tries, retryInMs: outcome.delayMs };
        if (outcome.alert) this.logger.error({ ...log, ageMs }, 'event handler failing transiently for long; retrying');
        else this.logger.warn(log, 'event handler failed; will retry');
        this.settle(() => msg.nak(outcome.delayMs));
        eventsHandled.inc({
          durable: spec.durable,
          outcome: outcome.transient ? 'retried_transient' : 'retried_poison',
        });
        return;
      }
      await this.deadLetterAndAck(spec, settings, ledger, msg, { subject, data, reason: outcome.reason, tries });
    }
  }

  /**
   * Publishes the dead letter and only then acknowledges the original, so the message is always in one of the
   * two places whatever the server does with a `+TERM` reason (ignored by 2.9, honoured by 2.10+). If NATS
   * fails meanwhile, the message is retried like any transient failure.
   */
  private async deadLetterAndAck<T>(
    spec: ConsumerSpec<T>,
    settings: ConsumerSettings,
    ledger: TryLedger,
    msg: JsMsg,
    letter: Pick<DeadLetterBody, 'subject' | 'data' | 'raw' | 'reason' | 'tries'>,
  ) {
    const sequence = msg.info.streamSequence;
    const body: DeadLetterBody = {
      ...letter,
      deadLetteredAt: new Date().toISOString(),
      msgId: msg.headers?.get('Nats-Msg-Id') || undefined,
      sequence,
    };
    try {
      await this.js.publish(
        `${this.prefix}.${deadLetterSubject(spec.stream, spec.durable)}`,
        encoder.encode(JSON.stringify(body)),
        // A redelivery dead-lettered again (its ack was lost) is stored once.
        { msgID: `dlq:${spec.stream}:${spec.durable}:${sequence}` },
      );
      await msg.ackAck();
      eventsHandled.inc({ durable: spec.durable, outcome: 'dead_lettered' });
      ledger.forget(sequence);
      this.logger.error(
        { subject: letter.subject, durable: spec.durable, reason: letter.reason, tries: letter.tries },
        'event dead-lettered',
      );
    } catch (error) {
      letter.tries.transient++;
      ledger.record(sequence, letter.tries);
      const delayMs = backoffDelayMs(letter.tries.transient, settings.retryDelayMs, settings.maxRetryDelayMs);
      this.logger.warn(
        { err: error, subject: letter.subject, durable: spec.durable },
        'could not dead-letter; will retry',
      );
      this.settle(() => msg.nak(delayMs));
    }
  }

  /**
   * An ack, nak or progress report on a connection that is gone cannot be sent; the server redelivers the
   * message after its ack wait, which is all that can be done.
   */
  private settle(send: () => void) {
    try {
      send();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not answer a message; the server will redeliver it');
    }
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const streams = filter.stream ? [filter.stream] : await this.streamNames();
    const letters: DeadLetter[] = [];
    for (const stream of streams) {
      const subject = `${this.prefix}.${filter.durable ? deadLetterSubject(stream, filter.durable) : deadLetterSubjects(stream)}`;
      const info = await (await this.manager()).streams.info(this.streamName(stream), { subjects_filter: subject });
      if (!info.state.subjects || Object.keys(info.state.subjects).length === 0) continue;
      const reader = await this.js.consumers.get(this.streamName(stream), { filter_subjects: subject });
      try {
        for (;;) {
          const msg = await reader.next({ expires: 1_000 });
          if (!msg) break;
          const durable = msg.subject.slice(`${this.prefix}.dlq.${stream}.`.length);
          letters.push({ ...msg.json<DeadLetterBody>(), id: msg.seq, stream, durable });
          if (msg.info.pending === 0) break;
        }
      } finally {
        await reader.delete().catch(() => undefined);
      }
    }
    return letters;
  }

  async replayDeadLetter(stream: string, id: number): Promise<boolean> {
    const letter = await this.deadLetterAt(stream, id);
    if (!letter) return false;
    const bytes = letter.raw ? encoder.encode(String(letter.data)) : encoder.encode(JSON.stringify(letter.data));
    await this.js.publish(`${this.prefix}.${letter.subject}`, bytes, { msgID: replayMsgId(stream, id) });
    return this.deleteDeadLetter(stream, id);
  }

  async dropDeadLetter(stream: string, id: number): Promise<boolean> {
    if (!(await this.deadLetterAt(stream, id))) return false;
    return this.deleteDeadLetter(stream, id);
  }

  /** False when it was deleted meanwhile (another replay or drop of the same dead letter). */
  private async deleteDeadLetter(stream: string, id: number): Promise<boolean> {
    try {
      return await (await this.manager()).streams.deleteMessage(this.streamName(stream), id);
    } catch (error) {
      if (!isTransientError(error) && !(await this.deadLetterAt(stream, id))) return false;
      throw error;
    }
  }

  private async deadLetterAt(stream: string, id: number): Promise<DeadLetterBody | null> {
    const jsm = await this.manager();
    let stored;
    try {
      stored = await jsm.streams.getMessage(this.streamName(stream), { seq: id });
    } catch (error) {
      if (isTransientError(error)) throw error;
      return null;
    }
    if (!stored?.subject.startsWith(`${this.prefix}.dlq.${stream}.`)) return null;
    return stored.json<DeadLetterBody>();
  }

  /** The logical names of this deployment's streams. */
  private async streamNames(): Promise<string[]> {
    const jsm = await this.manager();
    const names: string[] = [];
    const own = `${this.streamName('')}`;
    for await (const name of jsm.streams.names()) if (name.startsWith(own)) names.push(name.slice(own.length));
    return names;
  }

  /**
   * A core-NATS subscription: JetStream stores a published message and also delivers it to plain subscribers of
   * its subject, so every gateway instance sees every event without a consumer (or any state) on the server.
   */
  async subscribe<T>(subject: string, options: SubscribeOptions = {}): Promise<EventSubscription<T>> {
    const subscription = this.nc.subscribe(`${this.prefix}.${subject}`);
    const { onGap } = options;
    if (onGap) {
      this.gapListeners.add(onGap);
      this.watchConnection();
      void subscription.closed.finally(() => this.gapListeners.delete(onGap));
    }
    await this.nc.flush();
    const prefixLength = this.prefix.length + 1;
    const logger = this.logger;
    async function* events(): AsyncGenerator<BusEvent<T>> {
      for await (const msg of subscription) {
        let data: T;
        try {
          data = JSON.parse(decoder.decode(msg.data)) as T;
        } catch {
          logger.warn({ subject: msg.subject }, 'unparseable event payload skipped');
          continue;
        }
        const msgId = msg.headers?.get('Nats-Msg-Id');
        yield { subject: msg.subject.slice(prefixLength), data, ...(msgId ? { msgId } : {}) };
      }
    }
    const iterator = events();
    return { [Symbol.asyncIterator]: () => iterator, unsubscribe: () => subscription.unsubscribe() };
  }

  /**
   * One loop over the connection's status for every subscription that wants to know of gaps: the client
   * resubscribes by itself after a reconnect, but core NATS keeps nothing for a subscriber that was away.
   */
  private watchConnection() {
    if (this.watchingConnection) return;
    this.watchingConnection = true;
    void (async () => {
      let lost = false;
      for await (const status of this.nc.status()) {
        const state: 'lost' | 'restored' | null =
          status.type === 'disconnect' && !lost ? 'lost' : status.type === 'reconnect' && lost ? 'restored' : null;
        if (!state) continue;
        lost = state === 'lost';
        this.logger.warn(
          { state },
          lost ? 'broker connection lost: subscriptions miss events' : 'broker connection back',
        );
        for (const listener of this.gapListeners) listener(state);
      }
    })().catch((error: unknown) => this.logger.error({ err: error }, 'broker status watch stopped'));
  }

  async ping() {
    await this.nc.flush();
  }

  async close() {
    await this.nc.drain();
  }
}
