import { keyedLoader } from '@insta/infra';
import type { PostsRepository } from './posts.repository.ts';

export function createLoaders(posts: PostsRepository) {
  return {
    postById: keyedLoader((ids: readonly string[]) => posts.findByIds(ids), (p) => p.id),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
