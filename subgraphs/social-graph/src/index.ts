import { createPrismaClient } from '@insta/db';
import { runSubgraphProcess } from '@insta/infra';
import { loadSocialGraphConfig } from './config.ts';
import { startSocialGraphSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'social-graph',
  loadConfig: loadSocialGraphConfig,
  connectDb: (c) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE }),
  start: startSocialGraphSubgraph,
});
