import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const postsEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4002),
});
export type PostsConfig = z.infer<typeof postsEnvSchema>;

export const loadPostsConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(postsEnvSchema, source);
