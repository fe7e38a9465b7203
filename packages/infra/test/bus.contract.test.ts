import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  connectNats,
  deadLetterSubject,
  MemoryEventBus,
  NatsEventBus,
  type BusMessage,
  type EventBus,
} from '../src/index.ts';
import { silentLogger, testServices, uniquePrefix } from '../src/testing/index.ts';

interface Harness {
  bus: EventBus;
  cleanup(): Promise<void>;
}

const adapters: [string, () => Promise<Harness>][] = [
  [
    'memory',
    async () => {
      const bus = new MemoryEventBus(uniquePrefix('bus'), silentLogger);
      return { bus, cleanup: () => bus.close() };
    },
  ],
  [
    'nats-jetstream',
    async () => {
      const prefix = uniquePrefix('bus');
      const nc = await connectNats(testServices.natsUrl, 'contract-test');
      const bus = new NatsEventBus(nc, prefix, silentLogger);
      return {
        bus,
        cleanup: async () => {
          const jsm = await jetstreamManager(nc);
          for await (const stream of jsm.streams.list()) {
            if (stream.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(stream.config.name);
          }
          await bus.close();
        },
      };
    },
  ],
];

/** Collects what a consumer receives. */
function recorder<T>() {
  const received: BusMessage<T>[] = [];
  return { received, handler: async (m: BusMessage<T>) => void received.push(m) };
}

describe.each(adapters)('EventBus contract: %s', (_name, create) => {
  let h: Harness;
  beforeAll(async () => {
    h = await create();
    await h.bus.ensureStream({ name: 'TEST', subjects: ['test.>'], duplicateWindowMs: 60_000 });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('should deliver published events to a durable consumer in order', async () => {
    const r = recorder<{ n: number }>();
    const consumer = await h.bus.consume({
      stream: 'TEST',
      durable: 'order',
      filterSubject: 'test.order.*',
      maxDeliver: 3,
      handler: r.handler,
    });
    for (let n = 1; n <= 5; n++) await h.bus.publish(`test.order.${n}`, { n });
    await vi.waitFor(() => expect(r.received).toHaveLength(5));
    expect(r.received.map((m) => m.data.n)).toEqual([1, 2, 3, 4, 5]);
    expect(r.received[0]).toMatchObject({ subject: 'test.order.1', deliveryCount: 1 });
    await consumer.stop();
  });

  it('should store a message once when the same msgId is published twice', async () => {
    const r = recorder<{ v: string }>();
    await h.bus.publish('test.dedupe', { v: 'first' }, { msgId: 'same-id' });
    await h.bus.publish('test.dedupe', { v: 'second' }, { msgId: 'same-id' });
    await h.bus.publish('test.dedupe', { v: 'third' }, { msgId: 'other-id' });
    const consumer = await h.bus.consume({
      stream: 'TEST',
      durable: 'dedupe',
      filterSubject: 'test.dedupe',
      maxDeliver: 3,
      handler: r.handler,
    });
    await vi.waitFor(() => expect(r.received).toHaveLength(2));
    expect(r.received.map((m) => m.data.v)).toEqual(['first', 'third']);
    await consumer.stop();
  });

  it('should redeliver a message whose handler failed', async () => {
    const seen: number[] = [];
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'retry',
      filterSubject: 'test.retry',
      maxDeliver: 3,
      retryDelayMs: 10,
      handler: async (m) => {
        seen.push(m.deliveryCount);
        if (m.deliveryCount < 2) throw new Error('transient');
      },
    });
    await h.bus.publish('test.retry', { n: 1 });
    await vi.waitFor(() => expect(seen).toEqual([1, 2]));
    await consumer.stop();
  });

  it('should dead-letter a message that keeps failing after maxDeliver tries', async () => {
    const dead = recorder<{ subject: string; data: { n: number }; reason: string }>();
    const dlq = await h.bus.consume({
      stream: 'TEST',
      durable: 'dlq-reader',
      filterSubject: deadLetterSubject('TEST', 'poison'),
      maxDeliver: 1,
      handler: dead.handler,
    });
    let attempts = 0;
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'poison',
      filterSubject: 'test.poison',
      maxDeliver: 2,
      retryDelayMs: 10,
      handler: async () => {
        attempts++;
        throw new Error('poison');
      },
    });
    await h.bus.publish('test.poison', { n: 7 });
    await vi.waitFor(() => expect(dead.received).toHaveLength(1));
    expect(attempts).toBe(2);
    expect(dead.received[0]!.data).toMatchObject({ subject: 'test.poison', data: { n: 7 } });
    expect(dead.received[0]!.data.reason).toContain('poison');
    await consumer.stop();
    await dlq.stop();
  });

  it('should resume a durable consumer after a restart without redelivering acknowledged events', async () => {
    const first = recorder<{ n: number }>();
    let consumer = await h.bus.consume({
      stream: 'TEST',
      durable: 'resume',
      filterSubject: 'test.resume',
      maxDeliver: 3,
      handler: first.handler,
    });
    await h.bus.publish('test.resume', { n: 1 });
    await vi.waitFor(() => expect(first.received).toHaveLength(1));
    await consumer.stop();

    await h.bus.publish('test.resume', { n: 2 });
    const second = recorder<{ n: number }>();
    consumer = await h.bus.consume({
      stream: 'TEST',
      durable: 'resume',
      filterSubject: 'test.resume',
      maxDeliver: 3,
      handler: second.handler,
    });
    await vi.waitFor(() => expect(second.received).toHaveLength(1));
    expect(second.received[0]!.data.n).toBe(2);
    await consumer.stop();
  });

  it('should deliver each event to every ephemeral subscriber whose subject matches', async () => {
    const likes = await h.bus.subscribe<{ n: number }>('test.live.*.liked');
    const all = await h.bus.subscribe<{ n: number }>('test.live.>');
    const read = (subscription: typeof likes, count: number) =>
      (async () => {
        const seen: string[] = [];
        for await (const event of subscription) {
          seen.push(`${event.subject}:${event.data.n}`);
          if (seen.length === count) break;
        }
        return seen;
      })();
    const likesRead = read(likes, 2);
    const allRead = read(all, 3);
    await h.bus.publish('test.live.a.liked', { n: 1 });
    await h.bus.publish('test.live.a.commented', { n: 2 });
    await h.bus.publish('test.live.b.liked', { n: 3 });
    expect(await likesRead).toEqual(['test.live.a.liked:1', 'test.live.b.liked:3']);
    expect(await allRead).toEqual(['test.live.a.liked:1', 'test.live.a.commented:2', 'test.live.b.liked:3']);
  });

  it('should end an ephemeral subscription on unsubscribe and deliver nothing after it', async () => {
    const subscription = await h.bus.subscribe<{ n: number }>('test.ended');
    const seen: number[] = [];
    const reading = (async () => {
      for await (const event of subscription) seen.push(event.data.n);
    })();
    await h.bus.publish('test.ended', { n: 1 });
    await vi.waitFor(() => expect(seen).toEqual([1]), { timeout: 5_000 });
    subscription.unsubscribe();
    await reading;
    await h.bus.publish('test.ended', { n: 2 });
    expect(seen).toEqual([1]);
  });

  it('should refuse a publish to a subject no stream captures', async () => {
    await expect(h.bus.publish('nowhere.at.all', {})).rejects.toThrow();
  });
});
