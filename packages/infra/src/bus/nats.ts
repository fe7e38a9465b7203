import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { Logger } from '../logger.ts';
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

export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({ servers: url, name, maxReconnectAttempts: -1 });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsEventBus implements EventBus {
  private readonly js: JetStreamClient;
  private jsm: JetStreamManager | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    if (!prefix) throw new Error('NatsEventBus needs a subject prefix');
    this.js = jetstream(nc);
  }

  private streamName(name: string) {
    return `${this.prefix}_${name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  private async manager() {
    this.jsm ??= await jetstreamManager(this.nc);
    return this.jsm;
  }

  async ensureStream(spec: StreamSpec) {
    const jsm = await this.manager();
    const config = {
      name: this.streamName(spec.name),
      subjects: [...spec.subjects, deadLetterSubjects(spec.name)].map((s) => `${this.prefix}.${s}`),
      duplicate_window: nanos(spec.duplicateWindowMs ?? 2 * 60_000),
    };
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch {
      await jsm.streams.add(config);
    }
  }

  async publish(subject: string, data: unknown, options: { msgId?: string } = {}) {
    await this.js.publish(`${this.prefix}.${subject}`, encoder.encode(JSON.stringify(data)), {
      ...(options.msgId ? { msgID: options.msgId } : {}),
    });
  }

  async consume<T>(spec: ConsumerSpec<T>): Promise<Consumer> {
    const jsm = await this.manager();
    const stream = this.streamName(spec.stream);
    const consumerConfig = {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: `${this.prefix}.${spec.filterSubject}`,
      // One more than maxDeliver: the last delivery is the one we dead-letter and terminate ourselves.
      max_deliver: spec.maxDeliver + 1,
      ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    };
    try {
      await jsm.consumers.info(stream, spec.durable);
      await jsm.consumers.update(stream, spec.durable, consumerConfig);
    } catch {
      await jsm.consumers.add(stream, consumerConfig);
    }
    const consumer = await this.js.consumers.get(stream, spec.durable);
    const messages = await consumer.consume();
    const prefixLength = this.prefix.length + 1;
    const done = (async () => {
      for await (const msg of messages) {
        const deliveryCount = msg.info.deliveryCount;
        const subject = msg.subject.slice(prefixLength);
        let data: T;
        try {
          data = JSON.parse(decoder.decode(msg.data)) as T;
        } catch {
          await this.deadLetter(spec, subject, decoder.decode(msg.data), 'unparseable payload');
          msg.term('unparseable payload');
          continue;
        }
        try {
          await spec.handler({ subject, data, deliveryCount });
          msg.ack();
        } catch (error) {
          if (deliveryCount >= spec.maxDeliver) {
            await this.deadLetter(spec, subject, data, String(error));
            msg.term(String(error).slice(0, 200));
          } else {
            this.logger.warn({ err: error, subject, deliveryCount }, 'event handler failed; will retry');
            msg.nak(spec.retryDelayMs ?? 1_000);
          }
        }
      }
    })();
    return {
      stop: async () => {
        await messages.close();
        await done;
      },
    };
  }

  /**
   * A core-NATS subscription: JetStream stores a published message and also delivers it to plain subscribers of
   * its subject, so every gateway instance sees every event without a consumer (or any state) on the server.
   */
  async subscribe<T>(subject: string): Promise<EventSubscription<T>> {
    const subscription = this.nc.subscribe(`${this.prefix}.${subject}`);
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
        yield { subject: msg.subject.slice(prefixLength), data };
      }
    }
    const iterator = events();
    return { [Symbol.asyncIterator]: () => iterator, unsubscribe: () => subscription.unsubscribe() };
  }

  private async deadLetter<T>(spec: ConsumerSpec<T>, subject: string, data: unknown, reason: string) {
    this.logger.error({ subject, reason, durable: spec.durable }, 'event dead-lettered');
    await this.publish(deadLetterSubject(spec.stream, spec.durable), { subject, data, reason });
  }

  async ping() {
    await this.nc.flush();
  }

  async close() {
    await this.nc.drain();
  }
}
