import { keyedLoader } from '@insta/infra';
import type { StatsRepository } from './stats.repository.ts';

export function createLoaders(stats: StatsRepository) {
  return {
    statsByUserId: keyedLoader((ids: readonly string[]) => stats.findByUserIds(ids), (s) => s.userId),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
