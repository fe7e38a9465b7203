import { z } from 'zod';
import { env, loadConfig, storageEnvSchema, subgraphEnvSchema } from '@insta/infra';

export const mediaEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4005),
  ...storageEnvSchema.shape,
});
export type MediaConfig = z.infer<typeof mediaEnvSchema>;

export const loadMediaConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(mediaEnvSchema, source);
