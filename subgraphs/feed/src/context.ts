import type { Identity } from '@insta/infra';
import type { FeedService } from './feed.service.ts';
import type { Loaders } from './loaders.ts';
import type { NotificationsService } from './notifications.service.ts';

export interface Context {
  identity: Identity | null;
  loaders: Loaders;
  feed: FeedService;
  notifications: NotificationsService;
}
