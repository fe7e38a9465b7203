import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectNats, metricsText, NatsEventBus, OutboxRelay, type BusMessage, type Consumer } from '@insta/infra';
import { metricValue, parseMetrics, silentLogger, testServices, uniquePrefix } from '@insta/infra/testing';
import { createPrismaClient, outboxRow, outboxStore, type PrismaClient } from '../src/index';
import { createTestDatabase, type TestDatabase } from '../src/testing';

let database: TestDatabase;
let db: PrismaClient;
let bus: NatsEventBus;
let consumer: Consumer;
const received: BusMessage<{ n: number }>[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = createPrismaClient({ url: database.url, poolSize: 4 });
  bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'outbox-test'), uniquePrefix('outbox'), silentLogger);
  await bus.ensureStream({ name: 'OUTBOX', subjects: ['outbox.>'], duplicateWindowMs: 60_000 });
  consumer = await bus.consume<{ n: number }>({
    stream: 'OUTBOX',
    durable: 'reader',
    filterSubject: 'outbox.>',
    maxDeliver: 1,
    handler: async (m) => void received.push(m),
  });
});
afterAll(async () => {
  await consumer.stop();
  await bus.close();
  await db.$disconnect();
  await database.drop();
});

describe('outbox relay', () => {
  it('should publish committed events in commit order and delete them', async () => {
    await db.$transaction([1, 2, 3].map((n) => db.socialOutbox.create({ data: outboxRow('outbox.order', { n }) })));
    const relay = new OutboxRelay(outboxStore(db, 'social.outbox'), bus, silentLogger, { pollIntervalMs: 20 });
    relay.start();
    await vi.waitFor(() =>
      expect(received.filter((m) => m.subject === 'outbox.order').map((m) => m.data.n)).toEqual([1, 2, 3]),
    );
    await relay.stop();
    expect(await db.socialOutbox.count()).toBe(0);
  });

  it('should publish an event exactly once when the publisher dies after publishing and before deleting it', async () => {
    await db.postsOutbox.create({ data: outboxRow('outbox.crash', { n: 42 }) });
    const store = outboxStore(db, 'posts.outbox');
    // First relay: publishes, then "dies" before its transaction commits the delete.
    await expect(
      store.drain(10, async (messages) => {
        for (const m of messages) await bus.publish(m.subject, m.payload, { msgId: m.msgId });
        throw new Error('killed after publish');
      }),
    ).rejects.toThrow('killed after publish');
    expect(await db.postsOutbox.count()).toBe(1);
    // After the restart the row is published again with the same msgId; JetStream drops the duplicate.
    const relay = new OutboxRelay(store, bus, silentLogger, { pollIntervalMs: 20 });
    relay.start();
    await vi.waitFor(async () => expect(await db.postsOutbox.count()).toBe(0));
    await relay.stop();
    await bus.ping();
    await vi.waitFor(() => expect(received.filter((m) => m.subject === 'outbox.crash')).toHaveLength(1));
    // Give a second copy, if there were one, every chance to arrive before asserting there is none.
    await bus.publish('outbox.marker', { n: 0 });
    await vi.waitFor(() => expect(received.some((m) => m.subject === 'outbox.marker')).toBe(true));
    expect(received.filter((m) => m.subject === 'outbox.crash')).toHaveLength(1);
  });

  it('should let only one relay drain a table at a time', async () => {
    await db.mediaOutbox.create({ data: outboxRow('outbox.single', { n: 1 }) });
    const store = outboxStore(db, 'media.outbox');
    let release!: () => void;
    const holding = store.drain(10, () => new Promise<void>((resolve) => (release = resolve)));
    await vi.waitFor(() => expect(release).toBeTypeOf('function'));
    expect(await store.drain(10, async () => undefined)).toBe(0);
    release();
    expect(await holding).toBe(1);
  });

  it('should report the backlog of its outbox and the age of the oldest event while it runs', async () => {
    const minuteAgo = new Date(Date.now() - 60_000);
    await db.usersOutbox.createMany({
      data: [1, 2].map((n) => ({ ...outboxRow('outbox.backlog', { n }), createdAt: minuteAgo })),
    });
    // A relay whose drains find nothing (another instance holds the lock): the rows stay, as in an outage.
    const store = { ...outboxStore(db, 'users.outbox'), drain: async () => 0 };
    const relay = new OutboxRelay(store, bus, silentLogger, { pollIntervalMs: 20 });
    const scrape = async () => parseMetrics(await metricsText());
    relay.start();
    const running = await scrape();
    await relay.stop();
    expect(metricValue(running, 'outbox_backlog_messages', { outbox: 'users' })).toBe(2);
    expect(metricValue(running, 'outbox_oldest_message_age_seconds', { outbox: 'users' })).toBeGreaterThanOrEqual(59);
    const stopped = await scrape();
    expect(stopped.filter((s) => s.name === 'outbox_backlog_messages' && s.labels.outbox === 'users')).toEqual([]);
    await db.usersOutbox.deleteMany({});
  });
});
