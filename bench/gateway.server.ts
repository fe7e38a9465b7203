/**
 * Child process of gateway.bench.ts: the users subgraph, our gateway and a stock Apollo gateway in one process
 * (the load generator is the parent). Sends `{ urls }` over IPC once listening, answers "cpu" with its
 * process.cpuUsage(), stops on "stop" or disconnect.
 */
import { readFile } from 'node:fs/promises';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createPrismaClient } from '@insta/db';
import { createGatewayServer, loadGatewayConfig } from '@insta/gateway';
import { signingFetcher } from '../gateway/src/subgraph-data-source.ts';
import { connectRedis, MemoryEventBus, RedisKeyValueStore, startTracing } from '@insta/infra';
import { silentLogger, TEST_SECRETS, testServices, uniquePrefix } from '@insta/infra/testing';
import { loadUsersConfig, startUsersSubgraph } from '@insta/users';

export interface ServerUrls {
  ours: string;
  stock: string;
  direct: string;
}

const SUPERGRAPH = new URL('../schema/supergraph.graphql', import.meta.url);
const USERS_URL_IN_SUPERGRAPH = 'http://users:4001/graphql';

const databaseUrl = process.env.BENCH_DATABASE_URL;
if (!databaseUrl || !process.send) throw new Error('gateway.server.ts runs as a child of gateway.bench.ts');
// One load generator on one address is exactly what rate limits refuse; this bench measures the gateway's overhead.
const env = { ...TEST_SECRETS, NODE_ENV: 'production', LOG_LEVEL: 'silent', PORT: '0', RATE_LIMITS: 'false' };

// Off unless the parent sets OTEL_EXPORTER_OTLP_ENDPOINT (observability.bench.ts).
const tracing = startTracing('bench');
const db = createPrismaClient({ url: databaseUrl, poolSize: 10 });
const kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), uniquePrefix('bench:'));
const bus = new MemoryEventBus(uniquePrefix('bench'), silentLogger);
const users = await startUsersSubgraph({
  // The direct target's header is signed once per run by the load generator, so allow it to age.
  config: loadUsersConfig({ ...env, IDENTITY_MAX_SKEW_SECONDS: '3600' }),
  db,
  kv,
  bus,
  logger: silentLogger,
});

const ours = await createGatewayServer({
  config: loadGatewayConfig({ ...env, USERS_URL: users.url }),
  kv,
  bus,
  logger: silentLogger,
});

/** Stock gateway: defaults everywhere (Node's fetch), except the identity header the subgraph demands. */
class SignedDataSource extends RemoteGraphQLDataSource {
  constructor(url: string) {
    super({
      url,
      fetcher: signingFetcher(
        fetch as RemoteGraphQLDataSource['fetcher'],
        TEST_SECRETS.GATEWAY_SIGNING_SECRET,
        'users',
      ),
    });
  }
}
const sdl = await readFile(SUPERGRAPH, 'utf8');
if (!sdl.includes(USERS_URL_IN_SUPERGRAPH)) throw new Error(`${USERS_URL_IN_SUPERGRAPH} not found in the supergraph`);
const stockServer = new ApolloServer({
  gateway: new ApolloGateway({
    supergraphSdl: sdl.replace(USERS_URL_IN_SUPERGRAPH, users.url),
    buildService: ({ url }) => new SignedDataSource(url!),
  }),
});
const stock = await startStandaloneServer(stockServer, { listen: { host: '127.0.0.1', port: 0 } });

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await stockServer.stop();
  await ours.stop();
  await users.stop();
  await bus.close();
  await kv.close();
  await db.$disconnect();
  await tracing?.shutdown();
  process.exit(0);
}
process.on('message', (message) => {
  if (message === 'stop') void stop();
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => void stop());

const urls: ServerUrls = { ours: ours.url, stock: stock.url, direct: users.url };
process.send({ urls });
