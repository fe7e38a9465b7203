import { createPrismaClient } from '@insta/db';
import { runSubgraphProcess } from '@insta/infra';
import { loadUsersConfig } from './config.ts';
import { startUsersSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'users',
  loadConfig: loadUsersConfig,
  connectDb: (c, onPool) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE, onPool }),
  start: startUsersSubgraph,
});
