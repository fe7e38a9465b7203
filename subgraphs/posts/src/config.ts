import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const postsEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4002),
  /** Internal GraphQL endpoints this subgraph asks: mentions (users), visibility (social-graph), media checks. */
  USERS_URL: env.url().default('http://127.0.0.1:4001/graphql'),
  SOCIAL_GRAPH_URL: env.url().default('http://127.0.0.1:4004/graphql'),
  MEDIA_URL: env.url().default('http://127.0.0.1:4005/graphql'),
});
export type PostsConfig = z.infer<typeof postsEnvSchema>;

export const loadPostsConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(postsEnvSchema, source);
