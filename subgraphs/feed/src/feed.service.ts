import { z } from 'zod';
import { decodeCursor, encodeCursor, pageSize, type Connection } from '@insta/infra';
import type { FeedItem, FeedRepository, ItemCursor } from './feed.repository.ts';
import type { TimelineRepository } from './timeline.repository.ts';

const LIST = 'feed';
const cursorKey = z.tuple([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.uuid()]);
const DAY_MS = 86_400_000;
/** Reading counts as activity; recorded at most this often per user. */
const TOUCH_EVERY_MS = 3_600_000;

export interface PostRef {
  __typename: 'Post';
  id: string;
}

/** Newest first by (time, id). */
const newerFirst = (a: FeedItem, b: FeedItem) => (a.t !== b.t ? b.t - a.t : a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** A source of feed items, newest first, strictly after a cursor. */
type Source = (after: ItemCursor, limit: number) => Promise<FeedItem[]>;

export interface FeedSettings {
  activeWindowDays: number;
}

/**
 * The read side of the home feed: the precomputed timeline (Redis) merged with the posts of followed celebrities
 * (Postgres), filtered against the replicas (deleted posts, unfollowed and muted authors), paged by (time, id).
 * A missing timeline (new user, Redis flushed) or the timeline of a user who was inactive (no fan-out) is rebuilt
 * from Postgres before the page is read, so the answer is the same either way.
 */
export class FeedService {
  constructor(
    private readonly feed: FeedRepository,
    private readonly timelines: TimelineRepository,
    private readonly settings: FeedSettings,
  ) {}

  async page(
    viewerId: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<PostRef>> {
    const size = pageSize(first);
    const start = after ? this.decode(after) : null;
    await this.ensureTimeline(viewerId);
    const items = size === 0 ? [] : await this.collect(viewerId, start, size + 1);
    const page = items.slice(0, size);
    const edges = page.map((item) => ({
      cursor: encodeCursor(LIST, [item.t, item.id]),
      node: { __typename: 'Post' as const, id: item.id },
    }));
    return { edges, pageInfo: { hasNextPage: items.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  private decode(cursor: string): FeedItem {
    const [t, id] = decodeCursor(LIST, cursor, cursorKey);
    return { t, id };
  }

  /** Rebuilds by pull when the timeline was never built (or Redis lost it) or fan-out skipped the user. */
  private async ensureTimeline(userId: string): Promise<void> {
    const now = Date.now();
    const [built, lastActive] = await Promise.all([this.timelines.isBuilt(userId), this.feed.lastActiveAt(userId)]);
    const active = lastActive !== null && lastActive.getTime() >= now - this.settings.activeWindowDays * DAY_MS;
    if (!active || now - lastActive.getTime() > TOUCH_EVERY_MS) await this.feed.touchUser(userId, new Date(now));
    if (built && active) return;
    // Merging (not replacing) keeps what a concurrent fan-out writes meanwhile.
    const recent = await this.feed.pullPosts(userId, null, this.timelines.cap);
    await this.timelines.add(recent.map((item) => ({ userId, item })));
    await this.timelines.markBuilt(userId);
  }

  /**
   * Up to `want` visible items after `start`: a k-way merge of the sources, in rounds. A round fetches a chunk from
   * every source; the items down to the highest of the chunks' last items (of sources that may have more) are
   * complete and are kept after filtering; the next round starts below that frontier.
   */
  private async collect(viewerId: string, start: ItemCursor, want: number): Promise<FeedItem[]> {
    const sources: Source[] = [
      this.timelineSource(viewerId),
      (after, limit) => this.feed.pulledPostsOfFollowees(viewerId, after, limit),
    ];
    const out: FeedItem[] = [];
    let cursor = start;
    const chunk = Math.max(want * 2, 20);
    while (out.length < want) {
      const chunks = await Promise.all(sources.map((source) => source(cursor, chunk)));
      const frontiers = chunks.filter((c) => c.length === chunk).map((c) => c.at(-1)!);
      const frontier = frontiers.sort(newerFirst)[0];
      const seen = new Set<string>();
      const merged = chunks
        .flat()
        .sort(newerFirst)
        .filter((item) => !seen.has(item.id) && seen.add(item.id) && (!frontier || newerFirst(item, frontier) <= 0));
      const { visible, gone } = await this.feed.visibility(
        viewerId,
        merged.map((i) => i.id),
      );
      // Lazy removal of deleted posts and of authors no longer followed.
      if (gone.size > 0) await this.timelines.remove(viewerId, [...gone]);
      out.push(...merged.filter((i) => visible.has(i.id)));
      if (!frontier) break;
      cursor = frontier;
    }
    return out.slice(0, want);
  }

  /**
   * The Redis timeline; past its end, the pull query continues it. Always, not only for a timeline at the cap: one
   * trimmed and then shortened by a removal is below the cap yet misses older posts (the keyset avoids duplicates).
   */
  private timelineSource(viewerId: string): Source {
    return async (after, limit) => {
      const items = await this.timelines.page(viewerId, after, limit);
      if (items.length === limit) return items;
      const older = await this.feed.pullPosts(viewerId, items.at(-1) ?? after, limit - items.length);
      return [...items, ...older];
    };
  }
}
