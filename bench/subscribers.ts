/**
 * The subscriptions bench's receiving side spread over processes (subscribers.process.ts): the load generator
 * is the client, outside the system under test, and must not be what the latency measures.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { SubscriberSpec, SubscribersAnswer, SubscribersCommand } from './subscribers.process.ts';

const CLOCK_TICKS = 100;

export class SubscriberProcesses {
  private constructor(private readonly children: ChildProcess[]) {}

  static start(count: number): SubscriberProcesses {
    const children = Array.from({ length: count }, () =>
      fork(new URL('./subscribers.process.ts', import.meta.url), { execArgv: ['--import', 'tsx'] }),
    );
    return new SubscriberProcesses(children);
  }

  get size(): number {
    return this.children.length;
  }

  /** Opens the subscriptions as `group`, dealt round-robin over the processes. */
  async open(group: string, wsUrl: string, subscriptions: SubscriberSpec[]): Promise<void> {
    const shares = this.children.map((): SubscriberSpec[] => []);
    subscriptions.forEach((spec, i) => shares[i % shares.length]!.push(spec));
    await this.each((child, i) => ({ type: 'open', group, wsUrl, subscriptions: shares[i]! }), 'opened', group);
  }

  /** When every subscription of `group` has had k results: the arrival times of the k-th, and errors seen. */
  async received(group: string, k: number, timeoutMs: number): Promise<{ at: number[]; errors: number }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for result ${k} of ${group}`)), timeoutMs);
    });
    const answers = await Promise.race([this.each(() => ({ type: 'wait', group, k }), 'received', group), timeout]);
    clearTimeout(timer);
    return {
      at: answers.flatMap((a) => (a.type === 'received' ? a.at : [])),
      errors: answers.reduce((n, a) => n + (a.type === 'received' ? a.errors : 0), 0),
    };
  }

  async close(group: string): Promise<void> {
    await this.each(() => ({ type: 'close', group }), 'closed', group);
  }

  /** CPU time (user + system, ms, /proc clock ticks) the processes have used so far, together. */
  async cpuMs(): Promise<number> {
    const stats = await Promise.all(this.children.map((child) => readFile(`/proc/${child.pid}/stat`, 'utf8')));
    return stats.reduce((sum, stat) => {
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return sum + ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    }, 0);
  }

  stop(): void {
    for (const child of this.children) child.disconnect();
  }

  private each(
    command: (child: ChildProcess, i: number) => SubscribersCommand,
    answer: SubscribersAnswer['type'],
    group: string,
  ): Promise<SubscribersAnswer[]> {
    return Promise.all(
      this.children.map(
        (child, i) =>
          new Promise<SubscribersAnswer>((resolve, reject) => {
            const onMessage = (message: SubscribersAnswer) => {
              if (message.type !== answer || message.group !== group) return;
              child.off('message', onMessage);
              child.off('exit', onExit);
              resolve(message);
            };
            const onExit = (code: number | null) => reject(new Error(`subscriber process exited (code ${code})`));
            child.on('message', onMessage);
            child.once('exit', onExit);
            child.send(command(child, i));
          }),
      ),
    );
  }
}
