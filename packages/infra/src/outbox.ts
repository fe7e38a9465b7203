import type { EventBus } from './bus/bus.ts';
import { backoffDelayMs, isTransientError } from './failures.ts';
import type { Logger } from './logger.ts';
import {
  addOutboxBacklogSource,
  outboxFailures,
  outboxLag,
  outboxPublished,
  secondsSince,
} from './metrics/registry.ts';

export interface OutboxMessage {
  subject: string;
  payload: unknown;
  msgId: string;
}

/**
 * A subgraph's outbox table. `drain` runs one transaction: it takes the oldest pending messages (only one relay
 * at a time per table, so order is kept), hands them to `publish`, and deletes them when `publish` resolves.
 * If the process dies after publishing and before the commit, the messages are published again on restart
 * with the same msgId and JetStream drops the duplicates.
 */
export interface OutboxStore {
  drain(limit: number, publish: (messages: OutboxMessage[]) => Promise<void>): Promise<number>;
  /** The `outbox` label of its metrics (the table's schema), when the store knows it. */
  readonly name?: string;
  /** Rows not yet published and the commit time of the oldest (outbox_backlog_messages, ..._age_seconds). */
  backlog?(): Promise<{ count: number; oldestAt: Date | null }>;
}

export interface OutboxRelayOptions {
  /** How often to look for messages nobody announced (after a crash, or written by another instance). */
  pollIntervalMs?: number;
  batchSize?: number;
  /** Longest wait between two tries after failures (backoff with jitter from pollIntervalMs up to this). */
  maxRetryDelayMs?: number;
  /** Failures in a row after which a transient failure is logged as an error (an outage to look at). */
  alertAfterFailures?: number;
  /** The `outbox` label of its metrics (the table's schema); default: the first segment of the first subject. */
  name?: string;
}

/**
 * Publishes a subgraph's outbox to the event bus: at once when `notify`d after a commit, else by polling. A
 * failed batch (NATS or Postgres unreachable, or a publish NATS refuses) stays in the outbox and is tried again
 * with exponential backoff and jitter, as long as it takes: nothing is ever dropped, and nothing behind it is
 * published first (order). A failure that is not transient (a subject no stream captures) blocks the relay
 * until it is fixed, logged as an error on every try.
 */
export class OutboxRelay {
  private running = false;
  private wake: (() => void) | null = null;
  private pending = false;
  private loop: Promise<void> | null = null;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxRetryDelayMs: number;
  private readonly alertAfterFailures: number;
  private name: string | undefined;

  constructor(
    private readonly store: OutboxStore,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 100;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.alertAfterFailures = options.alertAfterFailures ?? 10;
    this.name = options.name ?? store.name;
  }

  private stopReporting: (() => void) | null = null;

  start(): void {
    if (this.running) return;
    this.running = true;
    const { store } = this;
    if (store.backlog && this.name) this.stopReporting = addOutboxBacklogSource(this.name, () => store.backlog!());
    this.loop = this.run();
  }

  /** Call after committing a transaction that wrote to the outbox. */
  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopReporting?.();
    this.stopReporting = null;
    this.wake?.();
    await this.loop;
  }

  private async run() {
    let failures = 0;
    while (this.running) {
      this.pending = false;
      let drained = 0;
      try {
        drained = await this.store.drain(this.batchSize, async (messages) => {
          for (const m of messages) {
            await this.bus.publish(m.subject, m.payload, { msgId: m.msgId });
            const outbox = (this.name ??= m.subject.split('.', 1)[0] ?? 'outbox');
            outboxPublished.inc({ outbox });
            const lag = secondsSince((m.payload as { occurredAt?: unknown } | null)?.occurredAt);
            if (lag !== null) outboxLag.observe({ outbox }, lag);
          }
        });
        failures = 0;
        if (this.name) outboxFailures.set({ outbox: this.name }, 0);
      } catch (error) {
        failures++;
        if (this.name) outboxFailures.set({ outbox: this.name }, failures);
        const transient = isTransientError(error);
        const log = { err: error, failures, transient };
        if (transient && failures < this.alertAfterFailures) this.logger.warn(log, 'outbox relay failed; retrying');
        else this.logger.error(log, 'outbox relay failed; retrying (nothing is dropped)');
      }
      if (drained === this.batchSize || (this.pending && failures === 0)) continue;
      const delay = failures
        ? backoffDelayMs(failures, this.pollIntervalMs, Math.max(this.pollIntervalMs, this.maxRetryDelayMs))
        : this.pollIntervalMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}
