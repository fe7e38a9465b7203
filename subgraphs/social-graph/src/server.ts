import { outboxStore, type PrismaClient } from '@insta/db';
import { SOCIAL_STREAM } from '@insta/events';
import {
  callPolicySettings,
  commonServerOptions,
  createInternalClient,
  OutboxRelay,
  startSubgraphServer,
  subgraphSchema,
  type Consumer,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import { startAccountsConsumer } from './accounts.consumer.ts';
import type { SocialGraphConfig } from './config.ts';
import type { Context } from './context.ts';
import { createLoaders } from './loaders.ts';
import { resolvers } from './resolvers/index.ts';
import { SocialRepository } from './social.repository.ts';
import { SocialService } from './social.service.ts';
import { usersAccountSource, type AccountSource } from './users.client.ts';

export type SocialGraphDeps = SubgraphDeps<SocialGraphConfig, PrismaClient> & {
  /** Defaults to the users subgraph's internal API at USERS_URL. */
  accounts?: AccountSource;
};

export async function startSocialGraphSubgraph(deps: SocialGraphDeps): Promise<RunningServer> {
  await deps.bus.ensureStream(SOCIAL_STREAM);
  const relay = new OutboxRelay(outboxStore(deps.db, 'social.outbox'), deps.bus, deps.logger);
  relay.start();
  const repo = new SocialRepository(deps.db, () => relay.notify());
  const users = createInternalClient(deps.config.USERS_URL, deps.config.GATEWAY_SIGNING_SECRET, {
    from: 'social-graph',
    to: 'users',
    policy: callPolicySettings(deps.config),
    logger: deps.logger,
  });
  const social = new SocialService(repo, deps.accounts ?? usersAccountSource(users), deps.logger);
  let accounts: Consumer | undefined;
  const stopWorkers = async () => {
    await accounts?.stop();
    await relay.stop();
    await users.close();
  };
  try {
    accounts = await startAccountsConsumer(deps.bus, social);
    return await startSubgraphServer<Context>({
      ...commonServerOptions('social-graph', deps),
      schema: subgraphSchema('social-graph', resolvers),
      context: ({ identity }) => ({ identity, loaders: createLoaders(repo, social, identity?.userId ?? null), social }),
      onStop: stopWorkers,
    });
  } catch (error) {
    await stopWorkers();
    throw error;
  }
}

export { loadSocialGraphConfig, type SocialGraphConfig } from './config.ts';
export { lateAccountSource, usersAccountSource, type AccountSource } from './users.client.ts';
