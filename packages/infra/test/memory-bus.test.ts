import { describe, expect, it } from 'vitest';
import { MemoryEventBus } from '../src/index.ts';
import { silentLogger } from '../src/testing/index.ts';

const STREAM = { name: 'LIMITED', subjects: ['limited.>'], duplicateWindowMs: 60_000 };

/** Everything a new durable would be handed, in order (it starts from the oldest message the stream keeps). */
async function replay(bus: MemoryEventBus, durable: string, expected: number): Promise<number[]> {
  const seen: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const consumer = await bus.consume<{ n: number }>({
    stream: STREAM.name,
    durable,
    filterSubject: 'limited.>',
    maxDeliver: 1,
    handler: async (m) => {
      seen.push(m.data.n);
      if (seen.length === expected) done();
    },
  });
  await all;
  await consumer.stop();
  return seen;
}

describe('MemoryEventBus limits', () => {
  it('should keep at most maxMessages per stream, dropping the oldest (like JetStream max_msgs)', async () => {
    const bus = new MemoryEventBus('limits', silentLogger, { maxMessages: 3, maxAgeMs: 60_000 });
    await bus.ensureStream(STREAM);
    for (let n = 1; n <= 10; n++) await bus.publish('limited.x', { n });
    expect(await replay(bus, 'late', 3)).toEqual([8, 9, 10]);
    await bus.close();
  });

  it('should drop messages older than maxAgeMs', async () => {
    const bus = new MemoryEventBus('ages', silentLogger, { maxMessages: 1_000, maxAgeMs: 1 });
    await bus.ensureStream(STREAM);
    await bus.publish('limited.x', { n: 1 });
    const stored = Date.now();
    // Wait for the clock to move past the age limit (a condition, not a fixed sleep).
    while (Date.now() - stored < 2) await new Promise((resolve) => setImmediate(resolve));
    await bus.publish('limited.x', { n: 2 });
    expect(await replay(bus, 'late', 1)).toEqual([2]);
    await bus.close();
  });

  it('should refuse limits that are not positive', () => {
    expect(() => new MemoryEventBus('bad', silentLogger, { maxMessages: 0, maxAgeMs: 1 })).toThrow(/positive/);
  });
});
