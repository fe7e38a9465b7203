import { createPrismaClient } from '@insta/db';
import { runSubgraphProcess } from '@insta/infra';
import { loadPostsConfig } from './config.ts';
import { startPostsSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'posts',
  loadConfig: loadPostsConfig,
  connectDb: (c, onPool) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE, onPool }),
  start: startPostsSubgraph,
});
