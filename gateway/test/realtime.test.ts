import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryEventBus, createLogger } from '@insta/infra';
import { EventHub } from '../src/realtime/event-hub.ts';
import { EventQueue } from '../src/realtime/event-queue.ts';

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
});
