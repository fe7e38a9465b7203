import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const feedEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4003),
});
export type FeedConfig = z.infer<typeof feedEnvSchema>;

export const loadFeedConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(feedEnvSchema, source);
