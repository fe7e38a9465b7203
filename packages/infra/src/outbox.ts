import type { EventBus } from './bus/bus.ts';
import type { Logger } from './logger.ts';

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
}

export interface OutboxRelayOptions {
  /** How often to look for messages nobody announced (after a crash, or written by another instance). */
  pollIntervalMs?: number;
  batchSize?: number;
}

/** Publishes a subgraph's outbox to the event bus: at once when `notify`d after a commit, else by polling. */
export class OutboxRelay {
  private running = false;
  private wake: (() => void) | null = null;
  private pending = false;
  private loop: Promise<void> | null = null;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly store: OutboxStore,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 100;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Call after committing a transaction that wrote to the outbox. */
  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
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
          for (const m of messages) await this.bus.publish(m.subject, m.payload, { msgId: m.msgId });
        });
        failures = 0;
      } catch (error) {
        failures++;
        this.logger.error({ err: error, failures }, 'outbox relay failed; retrying');
      }
      if (drained === this.batchSize || (this.pending && failures === 0)) continue;
      const delay = failures ? Math.min(this.pollIntervalMs * 2 ** failures, 30_000) : this.pollIntervalMs;
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
