import {
  FeedSubjects,
  type FeedItemsAddedEvent,
  type NotificationRemovedEvent,
  type NotificationUpsertedEvent,
} from '@insta/events';
import type { EventBus } from '@insta/infra';

/**
 * Publishes the per-user real-time signals on the FEED stream. Each msgId is derived from the write it announces,
 * so a handler that runs again after a redelivery publishes nothing twice (JetStream drops the duplicate).
 */
export class FeedEventsPublisher {
  constructor(private readonly bus: EventBus) {}

  async itemsAdded(event: FeedItemsAddedEvent): Promise<void> {
    if (event.userIds.length === 0) return;
    await this.bus.publish(FeedSubjects.itemsAdded, event, {
      msgId: `feed-items:${event.postId}:${event.userIds[0]}:${event.userIds.length}`,
    });
  }

  async notificationUpserted(event: NotificationUpsertedEvent): Promise<void> {
    await this.bus.publish(FeedSubjects.notificationUpserted, event, {
      msgId: `notification:${event.notificationId}:${event.actorCount}:${Date.parse(event.updatedAt)}`,
    });
  }

  async notificationRemoved(event: NotificationRemovedEvent): Promise<void> {
    await this.bus.publish(FeedSubjects.notificationRemoved, event, {
      msgId: `notification-removed:${event.userId}:${event.type}:${event.postId ?? '-'}:${event.actorId}:${Date.parse(event.removedAt)}`,
    });
  }
}
