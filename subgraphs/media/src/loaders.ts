import { keyedLoader } from '@insta/infra';
import type { MediaRepository } from './media.repository.ts';

export function createLoaders(media: MediaRepository) {
  return {
    mediaById: keyedLoader((ids: readonly string[]) => media.findByIds(ids), (m) => m.id),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
