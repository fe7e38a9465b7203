/**
 * Child process of observability.bench.ts (through gateway-server-control.ts): the users subgraph, our gateway and a stock Apollo gateway in one process
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
import { connectRedis, MemoryEventBus, metricsRegistry, RedisKeyValueStore, startTracing } from '@insta/infra';
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

// Off unless the parent sets OTEL_EXPORTER_OTLP_ENDPOINT, or turns it on over IPC (observability.bench.ts).
let tracing = startTracing('bench');
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
/**
 * observability.bench.ts switches between its settings in this one process, round after round: tracing at a ratio
 * (OTLP/HTTP to its sink) or off, and metrics on or off. Metrics off makes every series' recording methods no-ops
 * (Node's default metrics keep their event-loop and GC hooks), which is what recording costs per request.
 */
interface Observability {
  metrics: boolean;
  tracing: { endpoint: string; ratio: number } | null;
}
const recording = ['observe', 'inc', 'dec', 'set', 'startTimer'] as const;
type Recorder = Record<(typeof recording)[number], unknown>;
const saved = new Map<Recorder, Partial<Recorder>>();
function setMetrics(on: boolean) {
  for (const metric of metricsRegistry.getMetricsAsArray() as unknown as Recorder[]) {
    if (on) {
      if (!saved.has(metric)) continue;
      Object.assign(metric, saved.get(metric));
      for (const method of recording) if (!saved.get(metric)?.[method]) delete metric[method];
      continue;
    }
    if (saved.has(metric)) continue;
    const own: Partial<Recorder> = {};
    for (const method of recording) {
      if (Object.hasOwn(metric, method)) own[method] = metric[method];
      metric[method] = method === 'startTimer' ? () => () => 0 : () => undefined;
    }
    saved.set(metric, own);
  }
  if (on) saved.clear();
}
async function setObservability({ metrics, tracing: wanted }: Observability) {
  setMetrics(metrics);
  await tracing?.shutdown();
  tracing = null;
  if (wanted) {
    // The OTLP exporter reads its endpoint from the environment.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = wanted.endpoint;
    tracing = startTracing('bench', {
      OTEL_EXPORTER_OTLP_ENDPOINT: wanted.endpoint,
      OTEL_TRACES_SAMPLER_ARG: String(wanted.ratio),
    });
  }
}

process.on('message', (message) => {
  if (message === 'stop') void stop();
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  const observability = (message as { observability?: Observability }).observability;
  if (observability) void setObservability(observability).then(() => process.send?.({ observed: true }));
});
process.on('disconnect', () => void stop());

const urls: ServerUrls = { ours: ours.url, stock: stock.url, direct: users.url };
process.send({ urls });
