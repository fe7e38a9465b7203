import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The one Prometheus registry of this process, with Node's default process metrics (CPU, memory, event-loop lag,
 * GC) but those whose collection walks every handle (UNCOUNTED_PER_HANDLE). Every series is defined here, so the list of names and labels is in one place (README
 * "Metrics"). Labels are bounded by construction: service and subgraph names, durables, error codes of a known
 * set, operation names of a capped set (operation-labels.ts) — never ids, queries or client input.
 *
 * In embedded mode (`npm start`) the gateway and the five subgraphs share this process and so this registry;
 * the `service` label tells them apart. In the deployed topology each process has its own.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/**
 * Default metrics a scrape computes by walking every open handle or file descriptor (`process._getActiveHandles()`,
 * `getActiveResourcesInfo()`, a `readdir` of /proc/self/fd): with 10,000 sockets on a gateway one scrape blocked the
 * event loop for 70–125 ms (3.6 ms without them), a stall of every subscription's delivery at each scrape. The
 * gateway counts its connections itself (`gateway_websocket_connections`, `gateway_subscriptions`).
 */
export const UNCOUNTED_PER_HANDLE = [
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'process_open_fds',
] as const;
for (const name of UNCOUNTED_PER_HANDLE) metricsRegistry.removeSingleMetric(name);

const registers = [metricsRegistry];
/** Seconds: 5 ms … 10 s, the range GraphQL requests and subgraph fetches fall in. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: 10 ms … 2 min, for asynchronous work measured from the event's commit (lag). */
const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds: 50 ms … 15 min, for media processing. */
const JOB_BUCKETS = [0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

export const graphqlRequestDuration = new Histogram({
  name: 'graphql_request_duration_seconds',
  help: 'GraphQL requests by service, operation name (known names only, else "other") and type',
  labelNames: ['service', 'operation', 'type'] as const,
  buckets: REQUEST_BUCKETS,
  registers,
});

export const graphqlResponses = new Counter({
  name: 'graphql_responses_total',
  help: 'GraphQL HTTP responses by service and status code (503: a dependency down, 5xx in general: alert)',
  labelNames: ['service', 'status'] as const,
  registers,
});

export const graphqlErrors = new Counter({
  name: 'graphql_errors_total',
  help: 'Errors in GraphQL responses by service and extensions.code (unknown codes are "other")',
  labelNames: ['service', 'code'] as const,
  registers,
});

export const subgraphFetchDuration = new Histogram({
  name: 'gateway_subgraph_fetch_duration_seconds',
  help: 'Gateway fetches from a subgraph (retries included) by subgraph and outcome (ok, error)',
  labelNames: ['subgraph', 'outcome'] as const,
  buckets: REQUEST_BUCKETS,
  registers,
});

export const eventsHandled = new Counter({
  name: 'event_consumer_messages_total',
  help: 'Messages a consumer finished a try of, by durable and outcome (acked, retried_transient, retried_poison, dead_lettered)',
  labelNames: ['durable', 'outcome'] as const,
  registers,
});

export const eventHandleDuration = new Histogram({
  name: 'event_consumer_handle_duration_seconds',
  help: 'One try of a consumer handler, by durable',
  labelNames: ['durable'] as const,
  buckets: LAG_BUCKETS,
  registers,
});

export const outboxPublished = new Counter({
  name: 'outbox_published_total',
  help: 'Events an outbox relay published, by outbox',
  labelNames: ['outbox'] as const,
  registers,
});

export const outboxLag = new Histogram({
  name: 'outbox_publish_lag_seconds',
  help: 'From the commit that wrote an event to its publish (how long it waited in the outbox), by outbox',
  labelNames: ['outbox'] as const,
  buckets: LAG_BUCKETS,
  registers,
});

export const outboxFailures = new Gauge({
  name: 'outbox_relay_consecutive_failures',
  help: 'Failed drains in a row of an outbox relay (0 when its last drain worked), by outbox',
  labelNames: ['outbox'] as const,
  registers,
});

export const fanoutDuration = new Histogram({
  name: 'feed_fanout_duration_seconds',
  help: 'One fan-out of a post to its followers timelines (a successful try)',
  buckets: LAG_BUCKETS,
  registers,
});

export const fanoutLag = new Histogram({
  name: 'feed_fanout_lag_seconds',
  help: 'From the post being created to the last timeline written',
  buckets: LAG_BUCKETS,
  registers,
});

export const mediaProcessingDuration = new Histogram({
  name: 'media_processing_duration_seconds',
  help: 'One media processing try, by kind (IMAGE, VIDEO) and outcome (ready, failed, retried)',
  labelNames: ['kind', 'outcome'] as const,
  buckets: JOB_BUCKETS,
  registers,
});

export const mediaFailures = new Counter({
  name: 'media_processing_failures_total',
  help: 'Media marked FAILED, by failureReason (a fixed enum of the media subgraph)',
  labelNames: ['reason'] as const,
  registers,
});

export const websocketConnections = new Gauge({
  name: 'gateway_websocket_connections',
  help: 'Open graphql-ws connections',
  registers,
});

export const subscriptionDeliveryLatency = new Histogram({
  name: 'gateway_subscription_delivery_latency_seconds',
  help: 'From the event being committed to its subscription result being queued for the client, by field',
  labelNames: ['field'] as const,
  buckets: LAG_BUCKETS,
  registers,
});

export const rateLimitRejections = new Counter({
  name: 'gateway_rate_limit_rejections_total',
  help: 'Requests refused with RATE_LIMITED, by operation class',
  labelNames: ['class'] as const,
  registers,
});

export const redisCommandDuration = new Histogram({
  name: 'redis_command_duration_seconds',
  help: 'Redis commands of the KV store, from sent to reply, by command (get, set, eval, zrange, ...)',
  labelNames: ['command'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
  registers,
});

// ---- Postgres pools and DataLoader batches (issue 14, ops) ----

/** Keys per batch: 1 … 1,000 (a page of 100 ids is common; a fan-out of ids bigger). */
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

export const dataloaderBatchSize = new Histogram({
  name: 'dataloader_batch_size',
  help: 'Keys of one DataLoader batch (one I/O call), by loader (a name in the code: "posts.postById", ...)',
  labelNames: ['loader'] as const,
  buckets: BATCH_BUCKETS,
  registers,
});

/** What prom-client reads of a node-postgres Pool (pg.Pool has these). */
export interface PgPoolStats {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options: { readonly max?: number | undefined };
}

const pgPools = new Map<string, Set<WeakRef<PgPoolStats>>>();

/** The pools of each name, live ones only (a dropped pool stops being reported); the sum over them. */
function pgPoolTotals(read: (pool: PgPoolStats) => number): Array<[string, number]> {
  const totals: Array<[string, number]> = [];
  for (const [name, refs] of pgPools) {
    let sum = 0;
    for (const ref of refs) {
      const pool = ref.deref();
      if (pool) sum += read(pool);
      else refs.delete(ref);
    }
    if (refs.size === 0) pgPools.delete(name);
    else totals.push([name, sum]);
  }
  return totals;
}

new Gauge({
  name: 'pg_pool_connections',
  help: 'Postgres connections of the process pool, by pool (the service owning it) and state: open (total) or idle',
  labelNames: ['pool', 'state'],
  registers,
  collect() {
    this.reset();
    for (const [pool, value] of pgPoolTotals((p) => p.totalCount)) this.set({ pool, state: 'total' }, value);
    for (const [pool, value] of pgPoolTotals((p) => p.idleCount)) this.set({ pool, state: 'idle' }, value);
  },
});

new Gauge({
  name: 'pg_pool_waiting_requests',
  help: 'Queries waiting for a Postgres connection of the pool (every connection busy), by pool',
  labelNames: ['pool'],
  registers,
  collect() {
    this.reset();
    for (const [pool, value] of pgPoolTotals((p) => p.waitingCount)) this.set({ pool }, value);
  },
});

new Gauge({
  name: 'pg_pool_max_connections',
  help: 'The size limit of the Postgres pool (DB_POOL_SIZE), by pool',
  labelNames: ['pool'],
  registers,
  collect() {
    this.reset();
    for (const [pool, value] of pgPoolTotals((p) => p.options.max ?? 10)) this.set({ pool }, value);
  },
});

/**
 * Reports a Postgres pool while it lives (held weakly), under `name` (the service: bounded); pools of one name
 * add up (embedded mode shares one, tests make several).
 */
export function registerPgPool(name: string, pool: PgPoolStats): void {
  let refs = pgPools.get(name);
  if (!refs) pgPools.set(name, (refs = new Set()));
  refs.add(new WeakRef(pool));
}

// ---- end of Postgres pools and DataLoader batches ----

// ---- Consumer redeliveries and outbox backlog (issue 14, ops) ----

export const eventRedeliveries = new Counter({
  name: 'event_consumer_redeliveries_total',
  help: 'Messages a durable received again (a retry it asked for, or an ack that never came: a crash, an ack wait exceeded)',
  labelNames: ['durable'] as const,
  registers,
});

/** What an outbox table holds now: rows not yet published and the commit time of the oldest. */
type OutboxBacklogSource = () => Promise<{ count: number; oldestAt: Date | null }>;
const outboxSources = new Map<string, OutboxBacklogSource>();
type OutboxBacklogs = Map<string, { count: number; ageSeconds: number }>;
let outboxReading: Promise<OutboxBacklogs> | null = null;

/**
 * Reads every outbox once per scrape for both gauges: prom-client collects them at once, so the first starts the
 * reading and the second waits for the same one.
 */
function readOutboxes(): Promise<OutboxBacklogs> {
  outboxReading ??= (async () => {
    const backlogs: OutboxBacklogs = new Map();
    await Promise.all(
      [...outboxSources].map(async ([outbox, source]) => {
        try {
          const { count, oldestAt } = await source();
          const ageSeconds = oldestAt ? Math.max(0, (Date.now() - +oldestAt) / 1000) : 0;
          backlogs.set(outbox, { count, ageSeconds });
        } catch {
          // Postgres unreachable: no sample (the relay's failures gauge and /readyz say why).
        }
      }),
    );
    return backlogs;
  })().finally(() => (outboxReading = null));
  return outboxReading;
}

new Gauge({
  name: 'outbox_backlog_messages',
  help: 'Events committed to an outbox and not yet published, by outbox (read when scraped)',
  labelNames: ['outbox'],
  registers,
  async collect() {
    this.reset();
    for (const [outbox, { count }] of await readOutboxes()) this.set({ outbox }, count);
  },
});

new Gauge({
  name: 'outbox_oldest_message_age_seconds',
  help: 'Age of the oldest unpublished event of an outbox (0 when empty), by outbox (read when scraped)',
  labelNames: ['outbox'],
  registers,
  async collect() {
    this.reset();
    for (const [outbox, { ageSeconds }] of await readOutboxes()) this.set({ outbox }, ageSeconds);
  },
});

/** Reports an outbox's backlog while its relay runs; the returned function stops it. */
export function addOutboxBacklogSource(outbox: string, source: OutboxBacklogSource) {
  outboxSources.set(outbox, source);
  return () => void (outboxSources.get(outbox) === source && outboxSources.delete(outbox));
}

// ---- end of consumer redeliveries and outbox backlog ----

/** Gauges read when scraped: each source is asked for its current values (breakers, open subscriptions). */
type GaugeSource = () => Iterable<[labels: Record<string, string>, value: number]>;

function collectedGauge(name: string, help: string, labelNames: string[]) {
  const sources = new Set<GaugeSource>();
  new Gauge({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const source of sources) for (const [labels, value] of source()) this.inc(labels, value);
    },
  });
  /** Adds a source; the returned function removes it (call it when what it reports is gone). */
  return (source: GaugeSource) => {
    sources.add(source);
    return () => void sources.delete(source);
  };
}

/**
 * Messages of a durable not yet delivered (`pending`) or delivered and not yet acknowledged (`ack_pending`), as
 * the server counts them (one value per durable, whichever replica reports it). Read when scraped.
 */
type PendingSource = () => Promise<{ pending: number; ackPending: number }>;
const pendingSources = new Map<string, PendingSource>();
new Gauge({
  name: 'event_consumer_pending',
  help: 'JetStream messages of a durable waiting to be delivered (state="pending") or acknowledged (state="ack_pending")',
  labelNames: ['durable', 'state'],
  registers,
  async collect() {
    this.reset();
    await Promise.all(
      [...pendingSources].map(async ([durable, source]) => {
        try {
          const { pending, ackPending } = await source();
          this.set({ durable, state: 'pending' }, pending);
          this.set({ durable, state: 'ack_pending' }, ackPending);
        } catch {
          // NATS unreachable: no sample (absent() alerts on it); /readyz says why.
        }
      }),
    );
  },
});

/** Reports a durable's backlog while its consumer runs; the returned function stops it. */
export function addConsumerPendingSource(durable: string, source: PendingSource) {
  pendingSources.set(durable, source);
  return () => void (pendingSources.get(durable) === source && pendingSources.delete(durable));
}

/** 0 closed, 1 half-open, 2 open; the highest of the breakers of one dependency in this process. */
export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
const breakers = new Map<string, Set<WeakRef<{ readonly state: keyof typeof BREAKER_STATE_VALUE }>>>();
new Gauge({
  name: 'breaker_state',
  help: 'Circuit breaker of a dependency: 0 closed, 1 half-open, 2 open',
  labelNames: ['dependency'],
  registers,
  collect() {
    this.reset();
    for (const [dependency, refs] of breakers) {
      let value = -1;
      for (const ref of refs) {
        const policy = ref.deref();
        if (!policy) refs.delete(ref);
        else value = Math.max(value, BREAKER_STATE_VALUE[policy.state]);
      }
      if (value < 0) breakers.delete(dependency);
      else this.set({ dependency }, value);
    }
  },
});

/** Reports a breaker's state while it lives (held weakly: a dropped policy stops being reported). */
export function registerBreaker(dependency: string, policy: { readonly state: keyof typeof BREAKER_STATE_VALUE }) {
  let refs = breakers.get(dependency);
  if (!refs) breakers.set(dependency, (refs = new Set()));
  refs.add(new WeakRef(policy));
}

/** Subscriptions open, by root field; the realtime service registers itself as a source. */
export const addSubscriptionSource = collectedGauge(
  'gateway_subscriptions',
  'GraphQL subscriptions open, by root field',
  ['field'],
);

/** The text exposition of every series. */
export async function metricsText(): Promise<string> {
  return metricsRegistry.metrics();
}

/** `GET /metrics` in Prometheus text format. */
export async function serveMetrics(_req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await metricsText();
  res.writeHead(200, { 'content-type': metricsRegistry.contentType });
  res.end(body);
}

/** Seconds since an ISO timestamp (an event's occurredAt), or null when it is missing or malformed. */
export function secondsSince(iso: unknown, now = Date.now()): number | null {
  if (typeof iso !== 'string') return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : Math.max(0, (now - t) / 1000);
}
