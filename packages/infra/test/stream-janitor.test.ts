import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, NatsEventBus } from '../src/index.ts';
import {
  removeStaleTestStreams,
  removeStreamsOf,
  silentLogger,
  testServices,
  uniquePrefix,
} from '../src/testing/index.ts';

const nc = await connectNats(testServices.natsUrl, 'stream-janitor-test');
afterAll(() => nc.close());

const streamsOf = async (prefix: string) => {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const name of jsm.streams.names()) if (name.startsWith(`${prefix}_`)) names.push(name);
  return names.sort();
};

describe('stream janitors on the shared NATS', () => {
  it('removeStreamsOf deletes every stream of one deployment and no other', async () => {
    const [mine, theirs] = [uniquePrefix('janitor_a'), uniquePrefix('janitor_b')];
    for (const prefix of [mine, theirs]) {
      const bus = new NatsEventBus(nc, prefix, silentLogger);
      await bus.ensureStream({ name: 'ONE', subjects: ['one.>'] });
      await bus.ensureStream({ name: 'TWO', subjects: ['two.>'] });
    }
    expect(await streamsOf(mine)).toEqual([`${mine}_ONE`, `${mine}_TWO`]);

    expect(await removeStreamsOf(testServices.natsUrl, mine)).toBe(2);
    expect(await streamsOf(mine)).toEqual([]);
    expect(await streamsOf(theirs)).toEqual([`${theirs}_ONE`, `${theirs}_TWO`]);
    await removeStreamsOf(testServices.natsUrl, theirs);
  });

  it('removeStaleTestStreams leaves streams younger than its cut-off', async () => {
    const prefix = uniquePrefix('janitor_c');
    await new NatsEventBus(nc, prefix, silentLogger).ensureStream({ name: 'ONE', subjects: ['one.>'] });
    await removeStaleTestStreams(testServices.natsUrl, 60_000);
    expect(await streamsOf(prefix)).toEqual([`${prefix}_ONE`]);
    // (Never called with a cut-off in the future here: that would delete the streams of every run going on.)
    await removeStreamsOf(testServices.natsUrl, prefix);
  });
});
