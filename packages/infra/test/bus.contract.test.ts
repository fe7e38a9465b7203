import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import {
  connectNats,
  deadLetterSubject,
  DEFAULT_STREAM_LIMITS,
  isTransientError,
  metricsText,
  MemoryEventBus,
  NatsEventBus,
  streamBytesCeilingFromEnv,
  PoisonMessageError,
  TransientError,
  type BusMessage,
  type Consumer,
  type EventBus,
} from '../src/index.ts';
import { metricValue, parseMetrics, silentLogger, testServices, uniquePrefix } from '../src/testing/index.ts';

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

  it('should redeliver a message whose handler failed, and count the redelivery', async () => {
    const redeliveries = async () =>
      metricValue(parseMetrics(await metricsText()), 'event_consumer_redeliveries_total', { durable: 'retry' });
    const before = await redeliveries();
    const seen: number[] = [];
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'retry',
      filterSubject: 'test.retry',
      maxDeliver: 3,
      retryDelayMs: 10,
      handler: async (m) => {
        seen.push(m.deliveryCount);
        if (m.deliveryCount < 2) throw new Error('a bug fixed by the next try');
      },
    });
    await h.bus.publish('test.retry', { n: 1 });
    await vi.waitFor(() => expect(seen).toEqual([1, 2]));
    await consumer.stop();
    expect((await redeliveries()) - before).toBe(1);
  });

  it('should retry a transiently failing message past maxDeliver and never dead-letter it', async () => {
    let failures = 0;
    const processed: number[] = [];
    const lastTries: boolean[] = [];
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'transient',
      filterSubject: 'test.transient',
      maxDeliver: 2,
      retryDelayMs: 1,
      maxRetryDelayMs: 5,
      handler: async (m) => {
        lastTries.push(m.lastTry);
        if (failures < 9) {
          failures++;
          throw new TransientError('database unreachable', { cause: Object.assign(new Error('x'), { code: 'P1001' }) });
        }
        processed.push(m.data.n);
      },
    });
    await h.bus.publish('test.transient', { n: 1 });
    await vi.waitFor(() => expect(processed).toEqual([1]), { timeout: 10_000 });
    expect(failures).toBe(9);
    expect(lastTries.every((last) => !last)).toBe(true);
    expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'transient' })).toEqual([]);
    await consumer.stop();
  });

  it('should give a message that failed transiently many times its full poison tries', async () => {
    let transient = 0;
    const poisonTries: boolean[] = [];
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'mixed',
      filterSubject: 'test.mixed',
      maxDeliver: 3,
      retryDelayMs: 1,
      maxRetryDelayMs: 2,
      handler: async (m) => {
        if (transient < 50) {
          transient++;
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        }
        poisonTries.push(m.lastTry);
        throw new PoisonMessageError('invariant broken');
      },
    });
    await h.bus.publish('test.mixed', { n: 1 });
    await vi.waitFor(
      async () => expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'mixed' })).toHaveLength(1),
      { timeout: 20_000 },
    );
    expect(poisonTries).toEqual([false, false, true]);
    const [letter] = await h.bus.deadLetters({ stream: 'TEST', durable: 'mixed' });
    expect(letter).toMatchObject({ subject: 'test.mixed', data: { n: 1 }, tries: { poison: 3, transient: 50 } });
    expect(letter!.reason).toContain('invariant broken');
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
    await h.bus.publish('test.poison', { n: 7 }, { msgId: 'poison-7' });
    await vi.waitFor(() => expect(dead.received).toHaveLength(1));
    expect(attempts).toBe(2);
    expect(dead.received[0]!.data).toMatchObject({ subject: 'test.poison', data: { n: 7 } });
    expect(dead.received[0]!.data.reason).toContain('poison');
    const letters = await h.bus.deadLetters({ stream: 'TEST', durable: 'poison' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      stream: 'TEST',
      durable: 'poison',
      subject: 'test.poison',
      data: { n: 7 },
      msgId: 'poison-7',
      tries: { poison: 2, transient: 0 },
    });
    expect(Date.parse(letters[0]!.deadLetteredAt)).not.toBeNaN();
    await consumer.stop();
    await dlq.stop();
  });

  it('should process a replayed dead letter once, however often it is replayed', async () => {
    let healthy = false;
    const processed: number[] = [];
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'replayed',
      filterSubject: 'test.replayed',
      maxDeliver: 2,
      retryDelayMs: 1,
      handler: async (m) => {
        if (!healthy) throw new Error('bug in this release');
        processed.push(m.data.n);
      },
    });
    await h.bus.publish('test.replayed', { n: 3 }, { msgId: 'replayed-3' });
    await vi.waitFor(async () =>
      expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'replayed' })).toHaveLength(1),
    );
    const [letter] = await h.bus.deadLetters({ stream: 'TEST', durable: 'replayed' });
    healthy = true;
    expect(await h.bus.replayDeadLetter('TEST', letter!.id)).toBe(true);
    expect(await h.bus.replayDeadLetter('TEST', letter!.id)).toBe(false);
    await vi.waitFor(() => expect(processed).toEqual([3]));
    expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'replayed' })).toEqual([]);
    // A marker published after the replay arrives after it: nothing else was redelivered before it.
    await h.bus.publish('test.replayed', { n: 4 });
    await vi.waitFor(() => expect(processed).toEqual([3, 4]));
    await consumer.stop();
  });

  it('should delete a dropped dead letter without publishing it again', async () => {
    const seen: number[] = [];
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'TEST',
      durable: 'dropped',
      filterSubject: 'test.dropped',
      maxDeliver: 1,
      handler: async (m) => {
        seen.push(m.data.n);
        if (m.data.n === 1) throw new Error('cannot be handled');
      },
    });
    await h.bus.publish('test.dropped', { n: 1 });
    await vi.waitFor(async () =>
      expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'dropped' })).toHaveLength(1),
    );
    const [letter] = await h.bus.deadLetters({ stream: 'TEST', durable: 'dropped' });
    expect(await h.bus.dropDeadLetter('TEST', letter!.id)).toBe(true);
    expect(await h.bus.dropDeadLetter('TEST', letter!.id)).toBe(false);
    expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'dropped' })).toEqual([]);
    await h.bus.publish('test.dropped', { n: 2 });
    await vi.waitFor(() => expect(seen).toEqual([1, 2]));
    await consumer.stop();
  });

  it('should hand the messages a stopped consumer had not started to another consumer at once', async () => {
    const spec = {
      stream: 'TEST',
      durable: 'handover',
      filterSubject: 'test.handover',
      maxDeliver: 3,
      prefetch: 4,
      // Far longer than the test may take: the handover must not wait for it.
      ackWaitMs: 120_000,
    };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const first: number[] = [];
    const a = await h.bus.consume<{ n: number }>({
      ...spec,
      handler: async (m) => {
        first.push(m.data.n);
        await released;
      },
    });
    for (let n = 1; n <= 4; n++) await h.bus.publish('test.handover', { n });
    await vi.waitFor(() => expect(first).toEqual([1]));
    const second: number[] = [];
    const b = await h.bus.consume<{ n: number }>({ ...spec, handler: async (m) => void second.push(m.data.n) });
    const stopping = a.stop();
    release();
    await stopping;
    await vi.waitFor(() => expect(second.sort()).toEqual([2, 3, 4]), { timeout: 10_000 });
    expect(first).toEqual([1]);
    await b.stop();
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

  it('should give an ephemeral subscriber the msgId an event was published with', async () => {
    const subscription = await h.bus.subscribe<{ n: number }>('test.ids');
    const seen: (string | undefined)[] = [];
    const reading = (async () => {
      for await (const event of subscription) {
        seen.push(event.msgId);
        if (seen.length === 2) break;
      }
    })();
    await h.bus.publish('test.ids', { n: 1 }, { msgId: 'ids-1' });
    await h.bus.publish('test.ids', { n: 2 });
    await reading;
    expect(seen).toEqual(['ids-1', undefined]);
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

  it('should abort the job in hand on stop and hand it over without counting a try (abandonOnStop)', async () => {
    const spec = {
      stream: 'TEST',
      durable: 'abandon',
      filterSubject: 'test.abandon',
      maxDeliver: 1,
      prefetch: 1,
      ackWaitMs: 120_000,
      abandonOnStop: true,
    };
    let aborted = false;
    const started: number[] = [];
    const a = await h.bus.consume<{ n: number }>({
      ...spec,
      handler: (m) =>
        new Promise<void>((_resolve, reject) => {
          started.push(m.data.n);
          m.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('transcode killed'));
          });
        }),
    });
    await h.bus.publish('test.abandon', { n: 1 });
    await vi.waitFor(() => expect(started).toEqual([1]));
    const done: BusMessage<{ n: number }>[] = [];
    await a.stop();
    expect(aborted).toBe(true);
    const b = await h.bus.consume<{ n: number }>({ ...spec, handler: async (m) => void done.push(m) });
    await vi.waitFor(() => expect(done.map((m) => m.data.n)).toEqual([1]), { timeout: 10_000 });
    // maxDeliver 1: had the abandoned try counted, the message would have been dead-lettered instead.
    expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'abandon' })).toEqual([]);
    await b.stop();
  });

  it('should leave a message to another consumer rather than hold it behind a busy one (prefetch 1)', async () => {
    const spec = {
      stream: 'TEST',
      durable: 'jobs',
      filterSubject: 'test.jobs',
      maxDeliver: 3,
      prefetch: 1,
      ackWaitMs: 120_000,
    };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const busy: number[] = [];
    const a = await h.bus.consume<{ n: number }>({
      ...spec,
      handler: async (m) => {
        busy.push(m.data.n);
        await released;
      },
    });
    await h.bus.publish('test.jobs', { n: 1 });
    await vi.waitFor(() => expect(busy).toEqual([1]));
    const idle: number[] = [];
    const b = await h.bus.consume<{ n: number }>({ ...spec, handler: async (m) => void idle.push(m.data.n) });
    await h.bus.publish('test.jobs', { n: 2 });
    await vi.waitFor(() => expect(idle).toEqual([2]), { timeout: 10_000 });
    release();
    await a.stop();
    await b.stop();
    expect(busy).toEqual([1]);
  });

  describe('concurrency with an ordering key', () => {
    type Keyed = { key: string; n: number };
    const byKey = ({ data }: { data: Keyed }) => data.key;
    const name = (m: BusMessage<Keyed>) => `${m.data.key}${m.data.n}`;
    /** Handler start and end events, in the order they happened. */
    function timeline() {
      const events: string[] = [];
      return {
        events,
        started: () => events.filter((e) => e.startsWith('start ')).map((e) => e.slice(6)),
        ended: () => events.filter((e) => e.startsWith('end ')).map((e) => e.slice(4)),
        /** The most handlers that were running at once. */
        maxRunning: () => {
          let running = 0;
          let max = 0;
          for (const e of events) {
            running += e.startsWith('start ') ? 1 : -1;
            max = Math.max(max, running);
          }
          return max;
        },
        /** Whether two handlers of `key` ever ran at once, or one started before an earlier one of its key. */
        inOrder: (key: string, expected: string[]) => {
          const own = events.filter((e) => e.slice(e.indexOf(' ') + 1).startsWith(key));
          return own.join(',') === expected.flatMap((m) => [`start ${m}`, `end ${m}`]).join(',');
        },
      };
    }
    const signal = () => {
      let fire!: () => void;
      const fired = new Promise<void>((resolve) => (fire = resolve));
      return { fire, fired };
    };

    it('should handle one key in order, one at a time, while other keys run beside it', async () => {
      const t = timeline();
      const b1Started = signal();
      const consumer = await h.bus.consume<Keyed>({
        stream: 'TEST',
        durable: 'keyed-order',
        filterSubject: 'test.keyed.order',
        maxDeliver: 3,
        concurrency: 4,
        orderingKey: byKey,
        handler: async (m) => {
          t.events.push(`start ${name(m)}`);
          if (m.data.key === 'b') b1Started.fire();
          // a1 can only end once b1 has started: a consumer running one message at a time never gets past it.
          if (name(m) === 'a1') await b1Started.fired;
          t.events.push(`end ${name(m)}`);
        },
      });
      const sequence = ['a1', 'a2', 'b1', 'a3', 'b2', 'c1', 'a4'];
      for (const m of sequence) await h.bus.publish('test.keyed.order', { key: m[0], n: Number(m[1]) });
      await vi.waitFor(() => expect(t.ended().sort()).toEqual([...sequence].sort()), { timeout: 10_000 });
      await consumer.stop();
      expect(t.events.indexOf('start b1')).toBeLessThan(t.events.indexOf('end a1'));
      expect(t.inOrder('a', ['a1', 'a2', 'a3', 'a4'])).toBe(true);
      expect(t.inOrder('b', ['b1', 'b2'])).toBe(true);
    });

    it('should run no more handlers at once than its concurrency', async () => {
      const t = timeline();
      const release = signal();
      // Published before the consumer starts, so every message is there to be taken at once.
      for (let n = 1; n <= 6; n++) await h.bus.publish('test.keyed.limit', { key: `k${n}`, n });
      const consumer = await h.bus.consume<Keyed>({
        stream: 'TEST',
        durable: 'keyed-limit',
        filterSubject: 'test.keyed.limit',
        maxDeliver: 3,
        concurrency: 3,
        prefetch: 6,
        orderingKey: byKey,
        handler: async (m) => {
          t.events.push(`start ${m.data.key}`);
          await release.fired;
          t.events.push(`end ${m.data.key}`);
        },
      });
      await vi.waitFor(() => expect(t.started()).toHaveLength(3));
      release.fire();
      await vi.waitFor(() => expect(t.ended()).toHaveLength(6), { timeout: 10_000 });
      await consumer.stop();
      expect(t.maxRunning()).toBe(3);
      expect(t.events.slice(0, 3).every((e) => e.startsWith('start '))).toBe(true);
    });

    it('should count tries per message: a poison one dead-lettered, a retried one handled, its key free meanwhile', async () => {
      const t = timeline();
      const tries = new Map<string, number>();
      const consumer = await h.bus.consume<Keyed>({
        stream: 'TEST',
        durable: 'keyed-tries',
        filterSubject: 'test.keyed.tries',
        maxDeliver: 2,
        retryDelayMs: 10,
        maxRetryDelayMs: 20,
        concurrency: 4,
        orderingKey: byKey,
        handler: async (m) => {
          const id = name(m);
          const count = (tries.get(id) ?? 0) + 1;
          tries.set(id, count);
          t.events.push(`start ${id}`);
          t.events.push(`end ${id}`);
          if (id === 'p1') throw new Error('poison payload');
          if (id === 'a1' && count === 1) throw new Error('a bug fixed by the next try');
          // Retried until t2 is handled: were t1's key held through its retries, it would never be.
          if (id === 't1' && !tries.has('t2')) {
            throw new TransientError('database unreachable', {
              cause: Object.assign(new Error('x'), { code: 'P1001' }),
            });
          }
        },
      });
      for (const m of ['a1', 'p1', 't1', 'a2', 'p2', 't2']) {
        await h.bus.publish('test.keyed.tries', { key: m[0], n: Number(m[1]) }, { msgId: `keyed-tries-${m}` });
      }
      await vi.waitFor(
        async () => expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'keyed-tries' })).toHaveLength(1),
        { timeout: 10_000 },
      );
      await vi.waitFor(() => expect(t.ended()).toContain('t2'), { timeout: 10_000 });
      await vi.waitFor(() => expect(t.ended().filter((id) => id === 't1').length).toBe(tries.get('t1')));
      const settled = () => [...tries].filter(([id]) => id !== 't1');
      await vi.waitFor(() => expect(Object.fromEntries(settled())).toEqual({ a1: 2, a2: 1, p1: 2, p2: 1, t2: 1 }));
      expect(tries.get('t1')).toBeGreaterThanOrEqual(2);
      await consumer.stop();
      const [letter] = await h.bus.deadLetters({ stream: 'TEST', durable: 'keyed-tries' });
      expect(letter).toMatchObject({ data: { key: 'p', n: 1 }, tries: { poison: 2, transient: 0 } });
      // First deliveries keep their key's order: a2 starts only after a1's first try ended...
      const first = (id: string, kind: 'start' | 'end') => t.events.indexOf(`${kind} ${id}`);
      expect(first('a2', 'start')).toBeGreaterThan(first('a1', 'end'));
      expect(first('p2', 'start')).toBeGreaterThan(first('p1', 'end'));
      // ...but a retry does not hold its key: t2 was handled between two tries of t1.
      expect(first('t2', 'start')).toBeLessThan(t.events.lastIndexOf('start t1'));
    });

    it('should finish the messages in hand on stop and hand the ones not started, waiting for their key too, back at once', async () => {
      const spec = {
        stream: 'TEST',
        durable: 'keyed-handover',
        filterSubject: 'test.keyed.handover',
        maxDeliver: 3,
        concurrency: 3,
        prefetch: 4,
        orderingKey: byKey,
        // Far longer than the test may take: the handover must not wait for it.
        ackWaitMs: 120_000,
      };
      const release = signal();
      const t = timeline();
      const a = await h.bus.consume<Keyed>({
        ...spec,
        handler: async (m) => {
          t.events.push(`start ${name(m)}`);
          await release.fired;
          t.events.push(`end ${name(m)}`);
        },
      });
      // x1, y1 and z1 take the three slots; x2 waits for x1.
      for (const m of ['x1', 'y1', 'x2', 'z1']) {
        await h.bus.publish('test.keyed.handover', { key: m[0], n: Number(m[1]) });
      }
      await vi.waitFor(() => expect(t.started().sort()).toEqual(['x1', 'y1', 'z1']));
      const second: string[] = [];
      const b = await h.bus.consume<Keyed>({ ...spec, handler: async (m) => void second.push(name(m)) });
      const stopping = a.stop();
      release.fire();
      await stopping;
      // stop() resolved only after every handler in hand had ended.
      expect(t.ended().sort()).toEqual(['x1', 'y1', 'z1']);
      await vi.waitFor(() => expect(second).toEqual(['x2']), { timeout: 10_000 });
      expect(t.started()).not.toContain('x2');
      await b.stop();
    });

    it('should abort every job in hand on stop and hand them over without counting a try (abandonOnStop)', async () => {
      const spec = {
        stream: 'TEST',
        durable: 'keyed-abandon',
        filterSubject: 'test.keyed.abandon',
        maxDeliver: 1,
        concurrency: 2,
        orderingKey: byKey,
        // Short: NATS 2.9 may send a message handed back while the stopping consumer's pull is still open back to
        // that pull, where it waits for the ack wait (ADR 9). Nothing is lost or counted as a try either way.
        ackWaitMs: 2_000,
        abandonOnStop: true,
      };
      const aborted: string[] = [];
      const started: string[] = [];
      const a = await h.bus.consume<Keyed>({
        ...spec,
        handler: (m) =>
          new Promise<void>((_resolve, reject) => {
            started.push(name(m));
            m.signal.addEventListener('abort', () => {
              aborted.push(name(m));
              reject(new Error('job killed'));
            });
          }),
      });
      await h.bus.publish('test.keyed.abandon', { key: 'x', n: 1 });
      await h.bus.publish('test.keyed.abandon', { key: 'y', n: 1 });
      await vi.waitFor(() => expect(started.sort()).toEqual(['x1', 'y1']));
      await a.stop();
      expect(aborted.sort()).toEqual(['x1', 'y1']);
      const done: string[] = [];
      const b = await h.bus.consume<Keyed>({ ...spec, handler: async (m) => void done.push(name(m)) });
      // At least once: a message may come twice (handed back twice by the server), never not at all.
      await vi.waitFor(() => expect([...new Set(done)].sort()).toEqual(['x1', 'y1']), { timeout: 15_000 });
      // maxDeliver 1: had an abandoned try counted, its message would have been dead-lettered instead.
      expect(await h.bus.deadLetters({ stream: 'TEST', durable: 'keyed-abandon' })).toEqual([]);
      await b.stop();
    });
  });

  it('should list the dead letters of every stream when no stream is named', async () => {
    await h.bus.ensureStream({ name: 'OTHER', subjects: ['other.>'] });
    const consumer = await h.bus.consume<{ n: number }>({
      stream: 'OTHER',
      durable: 'other-reader',
      filterSubject: 'other.>',
      maxDeliver: 1,
      handler: async () => {
        throw new Error('never handled');
      },
    });
    await h.bus.publish('other.thing', { n: 9 });
    await vi.waitFor(async () =>
      expect((await h.bus.deadLetters()).map((l) => `${l.stream}/${l.durable}`)).toContain('OTHER/other-reader'),
    );
    await consumer.stop();
  });

  it('should refuse a publish to a subject no stream captures', async () => {
    await expect(h.bus.publish('nowhere.at.all', {})).rejects.toThrow();
  });

  it('should announce to the live subscribers only, storing nothing for a consumer', async () => {
    const live = await h.bus.subscribe<{ n: number }>('signal.live');
    const seen: number[] = [];
    const reading = (async () => {
      for await (const event of live) seen.push(event.data.n);
    })();
    await h.bus.announce('signal.live', { n: 1 });
    await vi.waitFor(() => expect(seen).toEqual([1]), { timeout: 5_000 });
    live.unsubscribe();
    await reading;
    // Nothing captured it: a later subscriber and the dead letters see nothing of it.
    expect(await h.bus.deadLetters()).not.toContainEqual(expect.objectContaining({ subject: 'signal.live' }));
  });

  it('should refuse publishes to a full stream that discards new messages, and keep what it holds', async () => {
    await h.bus.ensureStream({
      name: 'FULL',
      subjects: ['full.>'],
      limits: { maxAgeMs: 3_600_000, maxBytes: 2_000, discard: 'new' },
    });
    const payload = { text: 'x'.repeat(300) };
    let refused: unknown;
    let stored = 0;
    for (let i = 0; i < 20 && !refused; i++) {
      try {
        await h.bus.publish('full.item', { ...payload, i });
        stored++;
      } catch (error) {
        refused = error;
      }
    }
    expect(stored).toBeGreaterThan(0);
    expect(isTransientError(refused)).toBe(true);
    const r = recorder<{ i: number }>();
    const consumer = await h.bus.consume({
      stream: 'FULL',
      durable: 'full-reader',
      filterSubject: 'full.>',
      maxDeliver: 1,
      handler: r.handler,
    });
    await vi.waitFor(() => expect(r.received.map((m) => m.data.i)).toEqual([...Array(stored).keys()]));
    await consumer.stop();
  });

  it('should drop the oldest messages of a full stream that discards old ones', async () => {
    await h.bus.ensureStream({
      name: 'ROLLING',
      subjects: ['rolling.>'],
      limits: { maxAgeMs: 3_600_000, maxBytes: 2_000, discard: 'old' },
    });
    for (let i = 0; i < 20; i++) await h.bus.publish('rolling.item', { text: 'x'.repeat(300), i });
    const r = recorder<{ i: number }>();
    const consumer = await h.bus.consume({
      stream: 'ROLLING',
      durable: 'rolling-reader',
      filterSubject: 'rolling.>',
      maxDeliver: 1,
      handler: r.handler,
    });
    await vi.waitFor(() => expect(r.received.map((m) => m.data.i).at(-1)).toBe(19));
    expect(r.received[0]!.data.i).toBeGreaterThan(0);
    await consumer.stop();
  });
});

describe('EventBus on NATS JetStream: stream limits', () => {
  const prefix = uniquePrefix('limits');
  let nc: Awaited<ReturnType<typeof connectNats>>;
  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(stream.config.name);
    }
    await nc.close();
  });

  it('should give an existing stream without limits its limits and subjects on ensureStream', async () => {
    nc = await connectNats(testServices.natsUrl, 'limits-test');
    const jsm = await jetstreamManager(nc);
    // As an earlier version created it: no limits, a wider subject.
    await jsm.streams.add({ name: `${prefix}_OLD`, subjects: [`${prefix}.old.>`] });
    const bus = new NatsEventBus(nc, prefix, silentLogger);
    await bus.ensureStream({
      name: 'OLD',
      subjects: ['old.kept.>'],
      duplicateWindowMs: 60_000,
      limits: { maxAgeMs: 3_600_000, maxBytes: 2 ** 20, discard: 'new' },
    });
    const { config } = await jsm.streams.info(`${prefix}_OLD`);
    expect(config.subjects.sort()).toEqual([`${prefix}.dlq.OLD.>`, `${prefix}.old.kept.>`]);
    expect(config.max_age).toBe(nanos(3_600_000));
    expect(config.max_bytes).toBe(2 ** 20);
    expect(config.discard).toBe(DiscardPolicy.New);
    expect(config.duplicate_window).toBe(nanos(60_000));
  });

  it('should create a stream with the default limits when none are given', async () => {
    const jsm = await jetstreamManager(nc);
    const bus = new NatsEventBus(nc, prefix, silentLogger);
    await bus.ensureStream({ name: 'PLAIN', subjects: ['plain.>'] });
    const { config } = await jsm.streams.info(`${prefix}_PLAIN`);
    expect(config.max_age).toBe(nanos(DEFAULT_STREAM_LIMITS.maxAgeMs));
    // The test run sets NATS_STREAM_MAX_BYTES (vitest.config.ts): the default, under that ceiling.
    expect(config.max_bytes).toBe(bus.maxBytesOf(DEFAULT_STREAM_LIMITS));
    expect(config.max_bytes).toBe(Math.min(DEFAULT_STREAM_LIMITS.maxBytes, bus.streamBytesCeiling ?? Infinity));
    expect(config.discard).toBe(DiscardPolicy.Old);
  });

  it('should cap every stream at the configured byte ceiling, and leave smaller limits as they are', async () => {
    const jsm = await jetstreamManager(nc);
    const bus = new NatsEventBus(nc, prefix, silentLogger, { streamBytesCeiling: 64 * 1024 });
    await bus.ensureStream({
      name: 'CAPPED',
      subjects: ['capped.>'],
      limits: { maxAgeMs: 3_600_000, maxBytes: 2 ** 30, discard: 'new' },
    });
    await bus.ensureStream({
      name: 'SMALL',
      subjects: ['small.>'],
      limits: { maxAgeMs: 3_600_000, maxBytes: 2_000, discard: 'old' },
    });
    expect((await jsm.streams.info(`${prefix}_CAPPED`)).config.max_bytes).toBe(64 * 1024);
    expect((await jsm.streams.info(`${prefix}_SMALL`)).config.max_bytes).toBe(2_000);
  });

  it('should refuse a malformed NATS_STREAM_MAX_BYTES, naming the variable', () => {
    expect(() => streamBytesCeilingFromEnv({ NATS_STREAM_MAX_BYTES: '1 GiB' })).toThrow(/NATS_STREAM_MAX_BYTES/);
    expect(streamBytesCeilingFromEnv({ NATS_STREAM_MAX_BYTES: '' })).toBeUndefined();
    expect(streamBytesCeilingFromEnv({ NATS_STREAM_MAX_BYTES: '16777216' })).toBe(16_777_216);
  });
});

/** What only a networked adapter can show: payloads other clients wrote, processes that die, slow handlers. */
describe('EventBus on NATS JetStream: deliveries across connections', () => {
  const prefix = uniquePrefix('bus');
  const connections: Awaited<ReturnType<typeof connectNats>>[] = [];
  const consumers: Consumer[] = [];
  const release: (() => void)[] = [];
  const connect = async () => {
    const nc = await connectNats(testServices.natsUrl, 'contract-test');
    connections.push(nc);
    return { nc, bus: new NatsEventBus(nc, prefix, silentLogger) };
  };
  let bus: EventBus;
  beforeAll(async () => {
    ({ bus } = await connect());
    await bus.ensureStream({ name: 'TEST', subjects: ['test.>'] });
  });
  afterAll(async () => {
    for (const r of release) r();
    for (const c of consumers) await c.stop();
    const jsm = await jetstreamManager(connections[0]!);
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(stream.config.name);
    }
    for (const nc of connections) if (!nc.isClosed()) await nc.close();
  });

  it('should dead-letter an unparseable payload at once and replay it as it was', async () => {
    const { nc } = await connect();
    let calls = 0;
    consumers.push(
      await bus.consume({
        stream: 'TEST',
        durable: 'raw',
        filterSubject: 'test.raw',
        maxDeliver: 5,
        handler: async () => void calls++,
      }),
    );
    const js = (await import('@nats-io/jetstream')).jetstream(nc);
    await js.publish(`${prefix}.test.raw`, new TextEncoder().encode('{not json'));
    await vi.waitFor(async () => expect(await bus.deadLetters({ stream: 'TEST', durable: 'raw' })).toHaveLength(1));
    const [letter] = await bus.deadLetters({ stream: 'TEST', durable: 'raw' });
    expect(letter).toMatchObject({ data: '{not json', raw: true, reason: 'unparseable payload' });
    expect(calls).toBe(0);
    expect(await bus.replayDeadLetter('TEST', letter!.id)).toBe(true);
    await vi.waitFor(async () => expect(await bus.deadLetters({ stream: 'TEST', durable: 'raw' })).toHaveLength(1));
    expect((await bus.deadLetters({ stream: 'TEST', durable: 'raw' }))[0]!.data).toBe('{not json');
  });

  it('should redeliver the message of a consumer whose connection died, within the ack wait', async () => {
    const spec = { stream: 'TEST', durable: 'killed', filterSubject: 'test.killed', maxDeliver: 3, ackWaitMs: 2_000 };
    const doomed = await connect();
    const started: number[] = [];
    await doomed.bus.consume<{ n: number }>({
      ...spec,
      handler: (m) => {
        started.push(m.data.n);
        return new Promise<void>((resolve) => release.push(resolve));
      },
    });
    await bus.publish('test.killed', { n: 1 });
    await vi.waitFor(() => expect(started).toEqual([1]));
    const survivor: number[] = [];
    consumers.push(await bus.consume<{ n: number }>({ ...spec, handler: async (m) => void survivor.push(m.data.n) }));
    await doomed.nc.close();
    await vi.waitFor(() => expect(survivor).toEqual([1]), { timeout: 2_000 + 3_000 });
  });

  it('should keep every message in hand, and one waiting for its key, with the consumer past the ack wait', async () => {
    const spec = {
      stream: 'TEST',
      durable: 'slow-keyed',
      filterSubject: 'test.slow-keyed',
      maxDeliver: 3,
      ackWaitMs: 1_000,
      // A slot free for x2, which therefore waits for x1 taken (not merely fetched ahead, as ADR 9 allows).
      concurrency: 3,
      orderingKey: ({ data }: { data: { key: string } }) => data.key,
    };
    const deliveries: string[] = [];
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    release.push(finish);
    consumers.push(
      await bus.consume<{ key: string; n: number }>({
        ...spec,
        handler: async (m) => {
          deliveries.push(`busy ${m.data.key}${m.data.n}`);
          await finished;
        },
      }),
    );
    // All three go to the busy consumer (its pull asks for 4); x2 waits there for x1.
    for (const [key, n] of [
      ['x', 1],
      ['y', 1],
      ['x', 2],
    ] as const)
      await bus.publish('test.slow-keyed', { key, n });
    await vi.waitFor(() => expect(deliveries.sort()).toEqual(['busy x1', 'busy y1']));
    const other = await connect();
    consumers.push(
      await other.bus.consume<{ key: string; n: number }>({
        ...spec,
        handler: async (m) => void deliveries.push(`other ${m.data.key}${m.data.n}`),
      }),
    );
    // Three ack waits: without progress reports for each (x2 included) a message would have gone to the other.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(deliveries.sort()).toEqual(['busy x1', 'busy y1']);
    finish();
    await vi.waitFor(() => expect(deliveries).toContain('busy x2'));
    expect(deliveries.filter((d) => d.startsWith('other'))).toEqual([]);
  });

  it('should keep a message that takes longer than the ack wait with the consumer working on it', async () => {
    const spec = { stream: 'TEST', durable: 'slow', filterSubject: 'test.slow', maxDeliver: 3, ackWaitMs: 1_000 };
    const deliveries: string[] = [];
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    release.push(finish);
    consumers.push(
      await bus.consume<{ n: number }>({
        ...spec,
        handler: async () => {
          deliveries.push('busy');
          await finished;
        },
      }),
    );
    const other = await connect();
    consumers.push(
      await other.bus.consume<{ n: number }>({ ...spec, handler: async () => void deliveries.push('other') }),
    );
    await bus.publish('test.slow', { n: 1 });
    await vi.waitFor(() => expect(deliveries).toEqual(['busy']));
    // Three ack waits: without progress reports the message would have gone to the other consumer by now.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(deliveries).toEqual(['busy']);
    finish();
  });
});
