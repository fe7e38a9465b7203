import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  connectNats,
  isTransientError,
  NatsEventBus,
  OutboxRelay,
  type Consumer,
  type EventBus,
  type OutboxMessage,
  type OutboxStore,
} from '../src/index.ts';
import { silentLogger, startPrivateNats, uniquePrefix, type PrivateServer } from '../src/testing/index.ts';

/** An outbox table in memory with the store's contract: a batch is deleted only when its publish resolved. */
function memoryOutbox() {
  const rows: OutboxMessage[] = [];
  let next = 0;
  const store: OutboxStore = {
    async drain(limit, publish) {
      const batch = rows.slice(0, limit);
      if (batch.length === 0) return 0;
      await publish(batch);
      rows.splice(0, batch.length);
      return batch.length;
    },
  };
  const add = (n: number) => rows.push({ subject: 'outbox.event', payload: { n }, msgId: `event-${++next}` });
  return { rows, store, add };
}

/** Counts the publishes the relay tried that failed, and of which class. */
function countingBus(bus: EventBus) {
  const failures = { transient: 0, other: 0 };
  const counted: EventBus = Object.create(bus) as EventBus;
  counted.publish = async (subject, data, options) => {
    try {
      await bus.publish(subject, data, options);
    } catch (error) {
      failures[isTransientError(error) ? 'transient' : 'other']++;
      throw error;
    }
  };
  return { bus: counted, failures };
}

describe('outbox relay during a NATS outage', () => {
  let nats: PrivateServer;
  let bus: NatsEventBus;
  let consumer: Consumer;
  const received: number[] = [];
  beforeAll(async () => {
    nats = await startPrivateNats();
    bus = new NatsEventBus(await connectNats(nats.url, 'outbox-outage-test'), uniquePrefix('outbox'), silentLogger);
    await bus.ensureStream({ name: 'OUTBOX', subjects: ['outbox.>'], duplicateWindowMs: 120_000 });
    consumer = await bus.consume<{ n: number }>({
      stream: 'OUTBOX',
      durable: 'reader',
      filterSubject: 'outbox.>',
      maxDeliver: 1,
      handler: async (m) => void received.push(m.data.n),
    });
  });
  afterAll(async () => {
    await consumer?.stop();
    await bus?.close();
    await nats?.destroy();
  });

  it('should keep every event through the outage and publish each once, in order, when NATS is back', async () => {
    const outbox = memoryOutbox();
    const counted = countingBus(bus);
    const relay = new OutboxRelay(outbox.store, counted.bus, silentLogger, {
      pollIntervalMs: 20,
      maxRetryDelayMs: 200,
    });
    relay.start();
    for (let n = 1; n <= 5; n++) outbox.add(n);
    relay.notify();
    await vi.waitFor(() => expect(received).toEqual([1, 2, 3, 4, 5]), { timeout: 10_000 });

    // A clean shutdown: after a crash NATS may redeliver to the test's consumer, which is not what this counts.
    await nats.stop('SIGTERM');
    for (let n = 6; n <= 10; n++) outbox.add(n);
    relay.notify();
    await vi.waitFor(() => expect(counted.failures.transient).toBeGreaterThanOrEqual(2), { timeout: 30_000 });
    expect(outbox.rows).toHaveLength(5);
    await nats.start();

    await vi.waitFor(() => expect(received).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), { timeout: 30_000 });
    expect(outbox.rows).toHaveLength(0);
    expect(counted.failures.other).toBe(0);
    await relay.stop();
  });
});
