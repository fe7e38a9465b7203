/**
 * The results waiting for one client subscription: the AsyncGenerator graphql-ws iterates (it calls `return()`
 * when the client completes the operation or disconnects). Bounded: a push beyond `capacity` waiting results
 * ends the subscription with `overflowError` (thrown to graphql-ws, which sends it as the operation's `error`
 * message), and `onEnd` runs once however it ends, so the producer stops pushing.
 */
export class EventQueue<T> implements AsyncGenerator<T, undefined, unknown> {
  private readonly items: T[] = [];
  private waiting: { resolve: (result: IteratorResult<T, undefined>) => void; reject: (error: Error) => void } | null =
    null;
  private failure: Error | null = null;
  private ended = false;

  constructor(
    private readonly capacity: number,
    private readonly overflowError: () => Error,
    private readonly onEnd: () => void,
  ) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.capacity) return this.fail(this.overflowError());
    this.items.push(item);
  }

  /** Ends the subscription with an error at once; the results still waiting are dropped. */
  fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    this.items.length = 0;
    this.finish();
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      this.failure = null;
      reject(error);
    }
  }

  /** Ends the subscription normally (graphql-ws then sends `complete`). */
  end(): void {
    if (this.ended) return;
    this.finish();
    this.waiting?.resolve({ value: undefined, done: true });
    this.waiting = null;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.failure) {
      const error = this.failure;
      this.failure = null;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T, undefined>> {
    this.end();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish() {
    this.ended = true;
    this.onEnd();
  }
}
