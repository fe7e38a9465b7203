import type { BusEvent, EventBus, EventSubscription, Logger } from '@insta/infra';
import { RecentIds } from './recent-ids.ts';

type Listener = (data: unknown) => void;

interface SubjectEntry {
  listeners: Set<Listener>;
  subscription: Promise<EventSubscription<unknown>>;
  seen: RecentIds;
}

/** Event ids remembered per subject to drop repeats (a few seconds of traffic at thousands of events/s). */
export const DEFAULT_DEDUPE_WINDOW = 10_000;

/**
 * The id an event is de-duplicated by: the msgId it was published with, else the outbox envelope's `eventId`;
 * null when it has neither (then it is never taken for a repeat).
 */
export function eventIdOf(event: BusEvent<unknown>): string | null {
  if (event.msgId) return event.msgId;
  const eventId = (event.data as { eventId?: unknown } | null)?.eventId;
  return typeof eventId === 'string' ? eventId : null;
}

/**
 * Fan-in: one ephemeral bus subscription per subject for the whole gateway, shared by every subscription group
 * that listens to it (reference-counted by its listeners; the last one to leave unsubscribes). Each event reaches
 * the listeners once: a repeat of one of the last `dedupeWindow` event ids of its subject is dropped.
 */
export class EventHub {
  private readonly subjects = new Map<string, SubjectEntry>();

  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly dedupeWindow = DEFAULT_DEDUPE_WINDOW,
  ) {}

  /** Resolves once the bus subscription is registered, with the function that removes this listener. */
  async listen(subject: string, listener: Listener): Promise<() => void> {
    let entry = this.subjects.get(subject);
    if (!entry) {
      const created: SubjectEntry = {
        listeners: new Set(),
        subscription: this.bus.subscribe(subject),
        seen: new RecentIds(this.dedupeWindow),
      };
      this.subjects.set(subject, created);
      created.subscription.then(
        (subscription) => this.pump(subject, created, subscription),
        () => this.subjects.delete(subject),
      );
      entry = created;
    }
    const listening = entry;
    listening.listeners.add(listener);
    try {
      await listening.subscription;
    } catch (error) {
      listening.listeners.delete(listener);
      throw error;
    }
    return () => {
      listening.listeners.delete(listener);
      if (listening.listeners.size > 0 || this.subjects.get(subject) !== listening) return;
      this.subjects.delete(subject);
      void listening.subscription.then((subscription) => subscription.unsubscribe());
    };
  }

  /** Subjects with a bus subscription right now. */
  get subjectCount(): number {
    return this.subjects.size;
  }

  close(): void {
    for (const entry of this.subjects.values()) void entry.subscription.then((s) => s.unsubscribe());
    this.subjects.clear();
  }

  private async pump(subject: string, entry: SubjectEntry, subscription: EventSubscription<unknown>) {
    try {
      for await (const event of subscription) {
        const id = eventIdOf(event);
        if (id !== null && !entry.seen.firstSeen(id)) {
          this.logger.debug({ subject, eventId: id }, 'repeated event dropped');
          continue;
        }
        for (const listener of entry.listeners) listener(event.data);
      }
    } catch (error) {
      this.logger.error({ err: error, subject }, 'event subscription failed');
      if (this.subjects.get(subject) === entry) this.subjects.delete(subject);
    }
  }
}
