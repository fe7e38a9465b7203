import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const socialGraphEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4004),
  /** The owner of accounts, asked when the replica misses a user who signed up a moment ago (ADR 10). */
  USERS_URL: env.url().default('http://127.0.0.1:4001/graphql'),
});
export type SocialGraphConfig = z.infer<typeof socialGraphEnvSchema>;

export const loadSocialGraphConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadConfig(socialGraphEnvSchema, source);
