import { createPrismaClient } from '@insta/db';
import { createObjectStorage, runSubgraphProcess } from '@insta/infra';
import { loadMediaConfig } from './config.ts';
import { startMediaSubgraph } from './server.ts';

runSubgraphProcess({
  name: 'media',
  loadConfig: loadMediaConfig,
  connectDb: (c, onPool) => createPrismaClient({ url: c.DATABASE_URL, poolSize: c.DB_POOL_SIZE, onPool }),
  start: (deps) => startMediaSubgraph({ ...deps, storage: createObjectStorage(deps.config, deps.logger) }),
});
