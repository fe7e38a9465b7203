import DataLoader from 'dataloader';
import { keyedLoader } from '@insta/infra';
import type { MediaRepository, VariantRecord } from './media.repository.ts';

export function createLoaders(media: MediaRepository) {
  return {
    mediaById: keyedLoader((ids: readonly string[]) => media.findByIds(ids), (m) => m.id),
    variantsByMediaId: new DataLoader<string, VariantRecord[]>(async (ids) => {
      const variants = await media.variantsOf(ids);
      return ids.map((id) => variants.filter((v) => v.mediaId === id));
    }),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
