import { outboxStore, type PrismaClient } from '@insta/db';
import { USERS_STREAM } from '@insta/events';
import {
  callPolicySettings,
  CLIENT_IP_HEADER,
  commonServerOptions,
  createInternalClient,
  OutboxRelay,
  startSubgraphServer,
  subgraphSchema,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import { AuthService } from './auth.service.ts';
import type { UsersConfig } from './config.ts';
import type { Context } from './context.ts';
import { createLoaders } from './loaders.ts';
import { mediaClient } from '@insta/media/client';
import { resolvers } from './resolvers/index.ts';
import { SessionsRepository } from './sessions.repository.ts';
import { UsersRepository } from './users.repository.ts';
import { UsersService } from './users.service.ts';

export type UsersDeps = SubgraphDeps<UsersConfig, PrismaClient>;

/** Requests that did not come through the gateway's client path share one sign-in bucket per account. */
const clientIpOf = (header: string | string[] | undefined) =>
  typeof header === 'string' && header ? header : 'unknown';

export async function startUsersSubgraph(deps: UsersDeps): Promise<RunningServer> {
  await deps.bus.ensureStream(USERS_STREAM);
  const relay = new OutboxRelay(outboxStore(deps.db, 'users.outbox'), deps.bus, deps.logger);
  relay.start();
  const usersRepository = new UsersRepository(deps.db, () => relay.notify());
  const auth = new AuthService(
    usersRepository,
    new SessionsRepository(deps.db, () => relay.notify()),
    deps.kv,
    deps.config,
  );
  const mediaInternal = createInternalClient(deps.config.MEDIA_URL, deps.config.GATEWAY_SIGNING_SECRET, {
    from: 'users',
    to: 'media',
    policy: callPolicySettings(deps.config),
    logger: deps.logger,
  });
  const users = new UsersService(usersRepository, mediaClient(mediaInternal));
  try {
    return await startSubgraphServer<Context>({
      ...commonServerOptions('users', deps),
      schema: subgraphSchema('users', resolvers),
      context: ({ identity, req }) => ({
        identity,
        clientIp: clientIpOf(req.headers[CLIENT_IP_HEADER]),
        loaders: createLoaders(usersRepository),
        auth,
        users,
      }),
      onStop: async () => {
        await relay.stop();
        await mediaInternal.close();
      },
    });
  } catch (error) {
    await relay.stop();
    await mediaInternal.close();
    throw error;
  }
}

export { loadUsersConfig, type UsersConfig } from './config.ts';
