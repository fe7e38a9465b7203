import { createPrismaClient } from '@insta/db';
import { runSubgraphProcess } from '@insta/infra';
import { loadFeedConfig } from './config.ts';
import { startFeedSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'feed',
  loadConfig: loadFeedConfig,
  connectDb: (c) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE }),
  start: startFeedSubgraph,
});
