import type { PrismaClient } from '@insta/db';
import { commonServerOptions, startSubgraphServer, subgraphSchema, type RunningServer, type SubgraphDeps } from '@insta/infra';
import { AuthService } from './auth.service.ts';
import type { UsersConfig } from './config.ts';
import type { Context } from './context.ts';
import { createLoaders } from './loaders.ts';
import { resolvers } from './resolvers/index.ts';
import { SessionsRepository } from './sessions.repository.ts';
import { UsersRepository } from './users.repository.ts';
import { UsersService } from './users.service.ts';

export type UsersDeps = SubgraphDeps<UsersConfig, PrismaClient>;

export async function startUsersSubgraph(deps: UsersDeps): Promise<RunningServer> {
  const usersRepository = new UsersRepository(deps.db);
  const auth = new AuthService(usersRepository, new SessionsRepository(deps.db), deps.kv, deps.config);
  const users = new UsersService(usersRepository);
  return startSubgraphServer<Context>({
    ...commonServerOptions('users', deps),
    schema: subgraphSchema('users', resolvers),
    context: ({ identity }) => ({ identity, loaders: createLoaders(usersRepository), auth, users }),
  });
}

export { loadUsersConfig, type UsersConfig } from './config.ts';
