/**
 * The last `capacity` event ids seen, oldest forgotten first: how the gateway drops an event that reaches it twice
 * (a republish after a consumer redelivery carries the same msgId; JetStream drops it from the stream, but plain
 * subscribers see it again). Bounded in entries, not in time: a repeat arrives within seconds of the original.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** True the first time an id is seen; false for a repeat still remembered. */
  firstSeen(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
