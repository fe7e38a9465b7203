import DataLoader from 'dataloader';
import { keyedLoader, type Identity } from '@insta/infra';
import type { NotificationsRepository } from './notifications.repository.ts';

/**
 * Per request: the most recent actors of the notifications on a page, one query per `actors(first:)` value; and
 * notification references (subscriptions), resolved only for their recipient.
 */
export function createLoaders(notifications: NotificationsRepository, viewer: Identity | null) {
  const byLimit = new Map<number, DataLoader<string, string[]>>();
  return {
    ownNotification: keyedLoader(
      (ids: readonly string[]) => (viewer ? notifications.findOwn(viewer.userId, ids) : Promise.resolve([])),
      (n) => n.id,
    ),
    actors(limit: number): DataLoader<string, string[]> {
      let loader = byLimit.get(limit);
      if (!loader) {
        loader = new DataLoader<string, string[]>(async (ids) => {
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
