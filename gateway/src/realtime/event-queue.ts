const NOTHING = () => undefined;

/**
 * The results waiting for one client subscription: the AsyncGenerator graphql-ws iterates (it calls `return()`
 * when the client completes the operation or disconnects). Bounded: a push beyond `capacity` waiting results
 * ends the subscription with `overflowError` (thrown to graphql-ws, which sends it as the operation's `error`
 * message), and `onEnd` runs once however it ends, so the producer stops pushing.
 *
 * A transport that can write a result at once (the websocket, ADR 15 "Delivery") attaches a `sink` instead of
 * pulling: each push then goes straight to it, without a promise per result. The bound is the same, counted on
 * what the sink has not finished writing yet (it calls `written` once a result left the process). The iterator
 * still ends as before (`end`, `fail`, `return`), so the transport's `complete` / `error` follow the results.
 */
export class EventQueue<T> implements AsyncGenerator<T, undefined, unknown> {
  private readonly items: T[] = [];
  private waiting: { resolve: (result: IteratorResult<T, undefined>) => void; reject: (error: Error) => void } | null =
    null;
  private failure: Error | null = null;
  private ended = false;
  private sink: ((item: T, written: () => void) => void) | null = null;
  /** Results handed to the sink and not yet written. */
  private unwritten = 0;
  /** The sink's `written`: one function per queue (made by `attach`), not a closure per result. */
  private written: () => void = NOTHING;

  constructor(
    private readonly capacity: number,
    private readonly overflowError: () => Error,
    private readonly onEnd: () => void,
  ) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.sink) return this.toSink(this.sink, item);
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.capacity) return this.fail(this.overflowError());
    this.items.push(item);
  }

  /**
   * From now on every result goes to `sink` as it is pushed (those already waiting first, in order). `sink` calls
   * `written` when the result left the process; more than the capacity unwritten ends the subscription with the
   * overflow error, exactly as waiting results do.
   */
  attach(sink: (item: T, written: () => void) => void): void {
    this.sink = sink;
    this.written = () => void this.unwritten--;
    for (const item of this.items.splice(0)) this.toSink(sink, item);
  }

  private toSink(sink: (item: T, written: () => void) => void, item: T) {
    if (this.unwritten >= this.capacity) return this.fail(this.overflowError());
    this.unwritten++;
    sink(item, this.written);
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
