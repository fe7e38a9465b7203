import { createPrismaClient } from '@insta/db';
import { runSubgraphProcess } from '@insta/infra';
import { loadFeedConfig } from './config.ts';
import { startFeedSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'feed',
  loadConfig: loadFeedConfig,
  connectDb: (c, onPool) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE, onPool }),
  start: startFeedSubgraph,
});
