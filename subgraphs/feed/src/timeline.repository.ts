import type { KeyValueStore } from '@insta/infra';
import type { FeedItem, ItemCursor } from './feed.repository.ts';

const timelineKey = (userId: string) => `feed:tl:${userId}`;
/** Set once a timeline was built from Postgres; gone after a Redis flush, or dropped when the user was inactive. */
const builtKey = (userId: string) => `feed:tl-built:${userId}`;

/**
 * The only code that touches the timelines in Redis: one sorted set per user, member = post id, score = the post's
 * creation time in ms, capped at `cap` entries by the same script call that inserts.
 */
export class TimelineRepository {
  constructor(
    private readonly kv: KeyValueStore,
    readonly cap: number,
  ) {}

  /** Idempotent: a post already in a timeline stays there once. Returns the entries that were new. */
  async add<E extends { userId: string; item: FeedItem }>(entries: readonly E[]): Promise<E[]> {
    const added = await this.kv.zaddCapped(
      entries.map(({ userId, item }) => ({ key: timelineKey(userId), member: item.id, score: item.t })),
      this.cap,
    );
    return added.map((i) => entries[i]!);
  }

  async page(userId: string, after: ItemCursor, limit: number): Promise<FeedItem[]> {
    const members = await this.kv.zrangeDesc(timelineKey(userId), after && { member: after.id, score: after.t }, limit);
    return members.map((m) => ({ id: m.member, t: m.score }));
  }

  async remove(userId: string, postIds: readonly string[]): Promise<void> {
    await this.kv.zrem(timelineKey(userId), postIds);
  }

  async postIds(userId: string): Promise<string[]> {
    return (await this.page(userId, null, this.cap)).map((i) => i.id);
  }

  /**
   * Built, and the timeline itself is still there: Redis may evict it and keep the marker, and reading from the
   * marker alone would then show only the celebrities' posts. An empty timeline has no key either, so a user with
   * nothing in their feed is rebuilt on each read: one pull query, which finds nothing quickly.
   */
  async isBuilt(userId: string): Promise<boolean> {
    const [marked, present] = await Promise.all([
      this.kv.exists(builtKey(userId)),
      this.kv.exists(timelineKey(userId)),
    ]);
    return marked && present;
  }

  async markBuilt(userId: string): Promise<void> {
    await this.kv.set(builtKey(userId), '1');
  }

  /** The next read rebuilds the timeline from Postgres (merging into what is there). */
  async markStale(userId: string): Promise<void> {
    await this.kv.del(builtKey(userId));
  }
}
