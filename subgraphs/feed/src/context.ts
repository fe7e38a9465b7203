import type { Identity } from '@insta/infra';
import type { Loaders } from './loaders.ts';
import type { NotificationsRepository } from './notifications.repository.ts';

export interface Context {
  identity: Identity | null;
  loaders: Loaders;
  notifications: NotificationsRepository;
}
