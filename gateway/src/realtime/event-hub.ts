import type { EventBus, EventSubscription, Logger } from '@insta/infra';

type Listener = (data: unknown) => void;

interface SubjectEntry {
  listeners: Set<Listener>;
  subscription: Promise<EventSubscription<unknown>>;
}

/**
 * Fan-in: one ephemeral bus subscription per subject for the whole gateway, shared by every subscription group
 * that listens to it (reference-counted by its listeners; the last one to leave unsubscribes).
 */
export class EventHub {
  private readonly subjects = new Map<string, SubjectEntry>();

  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the bus subscription is registered, with the function that removes this listener. */
  async listen(subject: string, listener: Listener): Promise<() => void> {
    let entry = this.subjects.get(subject);
    if (!entry) {
      const created: SubjectEntry = { listeners: new Set(), subscription: this.bus.subscribe(subject) };
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
        for (const listener of entry.listeners) listener(event.data);
      }
    } catch (error) {
      this.logger.error({ err: error, subject }, 'event subscription failed');
      if (this.subjects.get(subject) === entry) this.subjects.delete(subject);
    }
  }
}
