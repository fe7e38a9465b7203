import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryEventBus, createLogger } from '@insta/infra';
import { EventHub } from '../src/realtime/event-hub.ts';
import { EventQueue } from '../src/realtime/event-queue.ts';
import { RecentIds } from '../src/realtime/recent-ids.ts';

const logger = createLogger('realtime-test', 'silent');

describe('EventHub', () => {
  const bus = new MemoryEventBus('hub-test', logger);
  afterEach(() => vi.restoreAllMocks());

  it('should share one bus subscription per subject among its listeners', async () => {
    await bus.ensureStream({ name: 'HUB', subjects: ['hub.>'] });
    const subscribe = vi.spyOn(bus, 'subscribe');
    const hub = new EventHub(bus, logger);
    const seen: string[] = [];
    const stops = await Promise.all(
      ['a', 'b', 'c'].map((name) => hub.listen('hub.liked', (data) => void seen.push(`${name}:${String(data)}`))),
    );
    const other = await hub.listen('hub.commented', (data) => void seen.push(`other:${String(data)}`));
    expect(subscribe.mock.calls.map(([subject]) => subject)).toEqual(['hub.liked', 'hub.commented']);
    expect(hub.subjectCount).toBe(2);

    await bus.publish('hub.liked', 1);
    await vi.waitFor(() => expect(seen).toEqual(['a:1', 'b:1', 'c:1']), { timeout: 2_000 });
    for (const stop of stops) stop();
    expect(hub.subjectCount).toBe(1);
    other();
    expect(hub.subjectCount).toBe(0);
  });

  it('should subscribe again when a listener comes back after the last one left', async () => {
    await bus.ensureStream({ name: 'HUB', subjects: ['hub.>'] });
    const hub = new EventHub(bus, logger);
    (await hub.listen('hub.again', () => undefined))();
    const seen: unknown[] = [];
    const stop = await hub.listen('hub.again', (data) => void seen.push(data));
    await bus.publish('hub.again', 'x');
    await vi.waitFor(() => expect(seen).toEqual(['x']), { timeout: 2_000 });
    stop();
  });
});

describe('repeated events', () => {
  const bus = new MemoryEventBus('dedupe-test', logger);

  it('should hand an event whose id it has just seen to nobody', async () => {
    await bus.ensureStream({ name: 'DUP', subjects: ['dup.>'] });
    const hub = new EventHub(bus, logger, 3);
    const seen: unknown[] = [];
    const stop = await hub.listen('dup.liked', (data) => void seen.push((data as { n: number }).n));
    // No msgId: the envelope's eventId is the id (the memory bus drops repeated msgIds itself, as JetStream does).
    for (const [eventId, n] of [
      ['a', 1],
      ['a', 2],
      ['b', 3],
      ['c', 4],
      ['d', 5],
      ['a', 6],
    ] as const) {
      await bus.publish('dup.liked', { eventId, n });
    }
    await bus.publish('dup.liked', { n: 7 });
    await bus.publish('dup.liked', { n: 8 });
    // 'a' again after three others: forgotten (a window of 3), so delivered; events without an id always are.
    await vi.waitFor(() => expect(seen).toEqual([1, 3, 4, 5, 6, 7, 8]), { timeout: 2_000 });
    stop();
  });

  it('should forget the oldest id first', () => {
    const ids = new RecentIds(2);
    expect([ids.firstSeen('x'), ids.firstSeen('y'), ids.firstSeen('x')]).toEqual([true, true, false]);
    expect(ids.firstSeen('z')).toBe(true);
    expect(ids.size).toBe(2);
    expect(ids.firstSeen('x')).toBe(true);
    expect(ids.firstSeen('z')).toBe(false);
  });
});

describe('EventQueue', () => {
  const overflow = () => Object.assign(new Error('too slow'), { extensions: { code: 'SUBSCRIPTION_QUEUE_OVERFLOW' } });

  it('should hand results to a waiting reader in order', async () => {
    const queue = new EventQueue<number>(10, overflow, () => undefined);
    const first = queue.next();
    queue.push(1);
    queue.push(2);
    expect(await first).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual({ value: 2, done: false });
  });

  it('should end with the overflow error when more than its capacity is waiting', async () => {
    const ended = vi.fn();
    const queue = new EventQueue<number>(2, overflow, ended);
    queue.push(1);
    queue.push(2);
    expect(ended).not.toHaveBeenCalled();
    queue.push(3);
    expect(ended).toHaveBeenCalledTimes(1);
    await expect(queue.next()).rejects.toMatchObject({ extensions: { code: 'SUBSCRIPTION_QUEUE_OVERFLOW' } });
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('should run onEnd once when the client completes it, and take no more results', async () => {
    const ended = vi.fn();
    const queue = new EventQueue<number>(2, overflow, ended);
    const waiting = queue.next();
    await queue.return();
    await queue.return();
    queue.push(1);
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(await queue.next()).toEqual({ value: undefined, done: true });
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('should hand results to an attached sink as they are pushed, those waiting first, in order', () => {
    const queue = new EventQueue<number>(10, overflow, () => undefined);
    queue.push(1);
    const sunk: number[] = [];
    queue.attach((item, written) => {
      sunk.push(item);
      written();
    });
    queue.push(2);
    queue.push(3);
    expect(sunk).toEqual([1, 2, 3]);
  });

  it('should end with the overflow error when more than its capacity is unwritten by the sink', async () => {
    const ended = vi.fn();
    const queue = new EventQueue<number>(2, overflow, ended);
    const written: (() => void)[] = [];
    const sunk: number[] = [];
    queue.attach((item, done) => {
      sunk.push(item);
      written.push(done);
    });
    const waiting = queue.next();
    queue.push(1);
    queue.push(2);
    written.shift()!();
    queue.push(3);
    expect(ended).not.toHaveBeenCalled();
    queue.push(4);
    expect(sunk).toEqual([1, 2, 3]);
    expect(ended).toHaveBeenCalledTimes(1);
    await expect(waiting).rejects.toMatchObject({ extensions: { code: 'SUBSCRIPTION_QUEUE_OVERFLOW' } });
    queue.push(5);
    expect(sunk).toEqual([1, 2, 3]);
  });

  it('should end a reader waiting on an attached queue when it ends', async () => {
    const queue = new EventQueue<number>(2, overflow, () => undefined);
    queue.attach((_item, written) => written());
    const waiting = queue.next();
    queue.push(1);
    queue.end();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });
});
