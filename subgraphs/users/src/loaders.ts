import { keyedLoader } from '@insta/infra';
import type { UsersRepository } from './users.repository.ts';

export function createLoaders(users: UsersRepository) {
  return {
    userById: keyedLoader(
      'users.userById',
      (ids: readonly string[]) => users.findByIds(ids),
      (u) => u.id,
    ),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
