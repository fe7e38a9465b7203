import {
  FeedSubjects,
  type FanoutBatchJob,
  type FeedItemsAddedEvent,
  type NotificationRemovedEvent,
  type NotificationUpsertedEvent,
} from '@insta/events';
import type { EventBus } from '@insta/infra';

/**
 * Publishes the per-user real-time signals (FEED stream, or announced) and the fan-out's batch jobs. Each msgId is derived from the write it announces,
 * so a handler that runs again after a redelivery publishes nothing twice (JetStream drops the duplicate).
 */
export class FeedEventsPublisher {
  constructor(private readonly bus: EventBus) {}

  /**
   * Announced to the gateways listening now, not stored (ADR 18): only live subscribers care, and a stored copy
   * would cost the broker the user ids of every fan-out. The ids are those whose timeline got the post just now, so
   * a batch done again announces nothing.
   */
  async itemsAdded(event: FeedItemsAddedEvent): Promise<void> {
    if (event.userIds.length === 0) return;
    await this.bus.announce(FeedSubjects.itemsAdded, event);
  }

  /** One batch job of a fan-out; the msgId keeps a split done again from queueing a range twice. */
  async fanoutBatch(job: FanoutBatchJob): Promise<void> {
    await this.bus.publish(FeedSubjects.fanoutBatch, job, { msgId: `fanout:${job.postId}:${job.from}` });
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
