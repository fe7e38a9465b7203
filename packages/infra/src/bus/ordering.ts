/**
 * Runs jobs up to `concurrency` at once; jobs with the same key one at a time, in the order they were added
 * (`ConsumerSpec.orderingKey`). A job without a key waits for nothing but a free slot. The NATS adapter feeds it
 * the messages it fetched, one more while a slot is free (`full`) and it holds (`held`: running plus waiting)
 * fewer than the consumer's prefetch.
 */
export class KeyedDispatcher<J> {
  /** Not started, in the order added. */
  private readonly waiting: { key: string | undefined; job: J }[] = [];
  private readonly busyKeys = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly concurrency: number,
    /** Must not reject: a job settles its own failures. */
    private readonly run: (job: J) => Promise<void>,
  ) {}

  /** Jobs running or waiting. */
  get held(): number {
    return this.running.size + this.waiting.length;
  }

  /** Every slot is running a job. */
  get full(): boolean {
    return this.running.size >= this.concurrency;
  }

  add(key: string | undefined, job: J): void {
    this.waiting.push({ key, job });
    this.pump();
  }

  /** Removes and returns the jobs not started yet (a stopping consumer hands them back). */
  takeWaiting(): J[] {
    const jobs = this.waiting.splice(0).map((w) => w.job);
    this.changed();
    return jobs;
  }

  /** Resolves the next time a job ends or waiting jobs are taken. */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.listeners.add(resolve));
  }

  /** Resolves once every running job has ended. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private pump() {
    while (this.running.size < this.concurrency) {
      const index = this.waiting.findIndex((w) => w.key === undefined || !this.busyKeys.has(w.key));
      if (index < 0) return;
      const [{ key, job }] = this.waiting.splice(index, 1) as [{ key: string | undefined; job: J }];
      if (key !== undefined) this.busyKeys.add(key);
      const task: Promise<void> = Promise.resolve()
        .then(() => this.run(job))
        .finally(() => {
          this.running.delete(task);
          if (key !== undefined) this.busyKeys.delete(key);
          this.pump();
          this.changed();
        });
      this.running.add(task);
    }
  }

  private changed() {
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener();
  }
}
