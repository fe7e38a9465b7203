import type { Identity } from '@insta/infra';
import type { ClientHints } from './delivery.ts';
import type { Loaders } from './loaders.ts';
import type { MediaService } from './media.service.ts';
import type { ObjectsRepository } from './objects.repository.ts';

export interface Context {
  identity: Identity | null;
  hints: ClientHints;
  loaders: Loaders;
  media: MediaService;
  objects: ObjectsRepository;
}
