import { createPrismaClient, type PrismaClient } from '@insta/db';
import { createTestDatabase } from '@insta/db/testing';
import {
  connectNats,
  connectRedis,
  IDENTITY_HEADER,
  NatsEventBus,
  RedisKeyValueStore,
  signIdentity,
  type Identity,
  type RunningServer,
} from '@insta/infra';
import { postGraphQL, silentLogger, testServices, TEST_SECRETS, uniquePrefix } from '@insta/infra/testing';
import { loadUsersConfig } from '../src/config.ts';
import { startUsersSubgraph } from '../src/server.ts';

/** A users subgraph on a free port over a fresh database, the real Redis and the real NATS. */
export async function startUsersHarness(env: Record<string, string> = {}) {
  const database = await createTestDatabase();
  const db: PrismaClient = createPrismaClient({ url: database.url, poolSize: 5 });
  const kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), uniquePrefix('users:'));
  const bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'users-test'), uniquePrefix('users'), silentLogger);
  const config = loadUsersConfig({ ...TEST_SECRETS, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test', ...env });
  const server: RunningServer = await startUsersSubgraph({ config, db, kv, bus, logger: silentLogger });

  const request = <T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, identity: Identity | null = null) =>
    postGraphQL<T>(server.url, query, variables, { [IDENTITY_HEADER]: signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, identity) });

  return {
    server,
    db,
    kv,
    config,
    request,
    async stop() {
      await server.stop();
      await db.$disconnect();
      await kv.close();
      await bus.close();
      await database.drop();
    },
  };
}
export type UsersHarness = Awaited<ReturnType<typeof startUsersHarness>>;

export const SIGN_UP = /* GraphQL */ `
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) { accessToken refreshToken accessTokenExpiresAt user { id username displayName isPrivate createdAt } }
  }`;
export const SIGN_IN = /* GraphQL */ `
  mutation SignIn($input: SignInInput!) { signIn(input: $input) { accessToken refreshToken user { id username } } }`;
export const REFRESH = /* GraphQL */ `
  mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken user { id } } }`;

let counter = 0;
/** A valid, unique sign-up input. */
export function newUser(overrides: Partial<{ username: string; email: string; password: string; displayName: string }> = {}) {
  counter++;
  const tag = `${process.pid.toString(36)}${counter}`;
  return { username: `user_${tag}`, email: `user_${tag}@example.com`, password: 'correct horse battery', displayName: `User ${tag}`, ...overrides };
}
