import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, NatsEventBus, type Consumer } from '../src/index.ts';
import { DlqUsageError, runDlqCommand } from '../src/dlq/dlq.command.ts';
import { silentLogger, testServices, uniquePrefix } from '../src/testing/index.ts';

const prefix = uniquePrefix('dlq');
let nc: Awaited<ReturnType<typeof connectNats>>;
let bus: NatsEventBus;
let consumer: Consumer;
let healthy = false;
const processed: number[] = [];

async function dlq(...argv: string[]) {
  const lines: string[] = [];
  await runDlqCommand(argv, bus, (line) => lines.push(line));
  return lines;
}

beforeAll(async () => {
  nc = await connectNats(testServices.natsUrl, 'dlq-test');
  bus = new NatsEventBus(nc, prefix, silentLogger);
  await bus.ensureStream({ name: 'JOBS', subjects: ['jobs.>'] });
  consumer = await bus.consume<{ n: number }>({
    stream: 'JOBS',
    durable: 'worker',
    filterSubject: 'jobs.>',
    maxDeliver: 2,
    retryDelayMs: 1,
    handler: async (m) => {
      if (!healthy) throw new Error('release 1.2 cannot read this');
      processed.push(m.data.n);
    },
  });
  await bus.publish('jobs.a', { n: 1 }, { msgId: 'job-1' });
  await bus.publish('jobs.b', { n: 2 }, { msgId: 'job-2' });
  await vi.waitFor(async () => expect(await bus.deadLetters({ stream: 'JOBS' })).toHaveLength(2), {
    timeout: 10_000,
  });
  healthy = true;
});

afterAll(async () => {
  await consumer.stop();
  const jsm = await jetstreamManager(nc);
  for await (const stream of jsm.streams.list()) {
    if (stream.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(stream.config.name);
  }
  await bus.close();
});

describe('npm run dlq', () => {
  it('should list the dead letters with subject, reason, time and tries', async () => {
    const lines = await dlq('list');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^JOBS #\d+ {2}worker {2}jobs\.a {2}\d{4}-\d\d-\d\dT.* {2}2 poison \+ 0 transient tries {2}Error: release 1\.2/,
    );
    expect(lines[2]).toBe('2 dead letter(s)');
    const json = (await dlq('list', '--json', '--durable', 'worker')).map((l) => JSON.parse(l) as { subject: string });
    expect(json.map((l) => l.subject)).toEqual(['jobs.a', 'jobs.b']);
    expect(await dlq('list', '--stream', 'JOBS', '--durable', 'nobody')).toEqual(['0 dead letter(s)']);
  });

  it('should replay one dead letter so that it is processed once, even when replayed again', async () => {
    const [first] = await bus.deadLetters({ stream: 'JOBS' });
    // Two operators at once: both publish before either deletes; the replay msgId stores the event once.
    await Promise.all([bus.replayDeadLetter('JOBS', first!.id), bus.replayDeadLetter('JOBS', first!.id)]);
    await expect(dlq('replay', '--id', String(first!.id))).rejects.toThrow(DlqUsageError);
    await vi.waitFor(() => expect(processed).toEqual([1]));
    await bus.publish('jobs.marker', { n: 100 });
    await vi.waitFor(() => expect(processed).toEqual([1, 100]));
    expect((await bus.deadLetters({ stream: 'JOBS' })).map((l) => l.subject)).toEqual(['jobs.b']);
  });

  it('should drop every dead letter chosen with --all without delivering it', async () => {
    expect((await dlq('drop', '--all', '--durable', 'worker')).at(-1)).toBe('1 dead letter(s) dropped');
    expect(await bus.deadLetters()).toEqual([]);
    await bus.publish('jobs.marker', { n: 101 });
    await vi.waitFor(() => expect(processed).toEqual([1, 100, 101]));
  });

  it('should refuse replay or drop without exactly one of --id and --all', async () => {
    await expect(dlq('replay')).rejects.toThrow(/--id N or --all/);
    await expect(dlq('drop', '--id', '3', '--all')).rejects.toThrow(/--id N or --all/);
    await expect(dlq('purge')).rejects.toThrow(/unknown command/);
  });

  it('should run as a command on the NATS_URL and DEPLOYMENT_PREFIX it is given', async () => {
    healthy = false;
    await bus.publish('jobs.c', { n: 3 });
    await vi.waitFor(async () => expect(await bus.deadLetters()).toHaveLength(1), { timeout: 10_000 });
    healthy = true;
    const main = fileURLToPath(new URL('../src/dlq/main.ts', import.meta.url));
    const run = (...argv: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', main, ...argv], {
        env: { ...process.env, NATS_URL: testServices.natsUrl, DEPLOYMENT_PREFIX: prefix },
      });
    expect((await run('list')).stdout).toContain('jobs.c');
    expect((await run('replay', '--all')).stdout).toContain('1 dead letter(s) replayed');
    await vi.waitFor(() => expect(processed).toContain(3));
    await expect(run('replay')).rejects.toMatchObject({ code: 2 });
  });
});
