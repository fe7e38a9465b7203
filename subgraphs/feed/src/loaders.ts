import type DataLoader from 'dataloader';
import { keyedLoader, namedLoader, type Identity } from '@insta/infra';
import type { NotificationsRepository } from './notifications.repository.ts';
import type { NotificationsService } from './notifications.service.ts';

/**
 * Per request: the most recent actors of the notifications on a page, one query per `actors(first:)` value; and
 * notification references (subscriptions), resolved only for their recipient.
 */
export function createLoaders(
  notifications: NotificationsRepository,
  viewer: Identity | null,
  service: NotificationsService,
) {
  const byLimit = new Map<number, DataLoader<string, string[]>>();
  return {
    /** Whether the viewer may see each post (one replica query and one social-graph call per batch). */
    postVisible: namedLoader<string, boolean>('feed.postVisible', async (postIds) => {
      if (!viewer) return postIds.map(() => false);
      const visible = await service.visiblePosts(viewer.userId, postIds);
      return postIds.map((id) => visible.has(id));
    }),
    ownNotification: keyedLoader(
      'feed.ownNotification',
      (ids: readonly string[]) => (viewer ? notifications.findOwn(viewer.userId, ids) : Promise.resolve([])),
      (n) => n.id,
    ),
    actors(limit: number): DataLoader<string, string[]> {
      let loader = byLimit.get(limit);
      if (!loader) {
        loader = namedLoader<string, string[]>('feed.actors', async (ids) => {
          const rows = await notifications.actorsOf(ids, limit);
          return ids.map((id) => rows.filter((r) => r.notificationId === id).map((r) => r.actorId));
        });
        byLimit.set(limit, loader);
      }
      return loader;
    },
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
