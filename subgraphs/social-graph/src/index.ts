import { createPrismaClient } from '@insta/db';
import { runSubgraphProcess } from '@insta/infra';
import { loadSocialGraphConfig } from './config.ts';
import { startSocialGraphSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'social-graph',
  loadConfig: loadSocialGraphConfig,
  connectDb: (c, onPool) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE, onPool }),
  start: startSocialGraphSubgraph,
});
