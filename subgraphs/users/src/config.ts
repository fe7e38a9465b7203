import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const usersEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4001),
  JWT_SECRET: env.secret(),
  ACCESS_TOKEN_TTL_SECONDS: env.int(900, 30),
  REFRESH_TOKEN_TTL_DAYS: env.int(30, 1),
  /** Failed-or-not sign-in attempts allowed per login name in SIGN_IN_WINDOW_SECONDS. */
  SIGN_IN_MAX_ATTEMPTS: env.int(10, 1),
  SIGN_IN_WINDOW_SECONDS: env.int(900, 1),
  /** Media, asked whether an avatar is the user's own READY image. */
  MEDIA_URL: env.url().default('http://127.0.0.1:4005/graphql'),
});
export type UsersConfig = z.infer<typeof usersEnvSchema>;

export const loadUsersConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(usersEnvSchema, source);
