import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const socialGraphEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4004),
});
export type SocialGraphConfig = z.infer<typeof socialGraphEnvSchema>;

export const loadSocialGraphConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadConfig(socialGraphEnvSchema, source);
