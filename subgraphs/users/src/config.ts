import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const usersEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4001),
  JWT_SECRET: env.secret(),
  ACCESS_TOKEN_TTL_SECONDS: env.int(900, 30),
  REFRESH_TOKEN_TTL_DAYS: env.int(30, 1),
  /**
   * Sign-in attempts (failed or not) per account and client address: a bucket of SIGN_IN_MAX_ATTEMPTS that
   * refills over SIGN_IN_WINDOW_SECONDS. Someone guessing from one address locks only that address out.
   */
  SIGN_IN_MAX_ATTEMPTS: env.int(10, 1),
  SIGN_IN_WINDOW_SECONDS: env.int(900, 1),
  /** And per account from all addresses together: a larger, slower bucket against guessing from many. */
  SIGN_IN_ACCOUNT_MAX_ATTEMPTS: env.int(100, 1),
  SIGN_IN_ACCOUNT_WINDOW_SECONDS: env.int(3600, 1),
  /** Media, asked whether an avatar is the user's own READY image. */
  MEDIA_URL: env.url().default('http://127.0.0.1:4005/graphql'),
});
export type UsersConfig = z.infer<typeof usersEnvSchema>;

export const loadUsersConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(usersEnvSchema, source);
