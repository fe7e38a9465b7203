/**
 * Throughput and latency of one small query (`user(username:)`, one hop to the users subgraph) through our
 * gateway, through our gateway with its opt-in single-fetch fast path (`ours-fast`), through a stock Apollo gateway,
 * and straight to the users subgraph, on the deployed topology
 * (`startTopology`: every subgraph and our gateway its own process, compiled bundles; the stock gateway its own
 * process). Each request is a different signed-in viewer (BENCH_VIEWERS, 1,000): a bearer token to the gateways,
 * a signature made per request by the load generator to the subgraph. CPU per request of the answering processes
 * from /proc/<pid>/stat. The targets alternate over BENCH_ROUNDS rounds (order reversed every other round).
 */
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import pg from 'pg';
import { CLIENT_IP_HEADER, IDENTITY_HEADER, issueAccessToken, requestPath, signIdentity } from '@insta/infra';
import { answersGraphQL, startBenchTopology } from './bench-topology.ts';
import {
  cpuPerRequest,
  intFromEnv,
  loadDistinct,
  toTargetResult,
  type BenchReport,
  type DistinctRequest,
  type TargetResult,
} from './lib.ts';

const QUERY = 'query($u: String!) { user(username: $u) { id username } }';
const USERNAME = 'bench_user';

interface Target {
  name: string;
  description: string;
  url: string;
  request: (n: number) => DistinctRequest;
  /** The answering processes whose CPU is measured. */
  pids: Record<string, number>;
  /** Paced load (req/s overall) instead of as fast as the connections go. */
  overallRate?: number;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

export default async function gatewayBench(): Promise<BenchReport> {
  const viewerCount = intFromEnv('BENCH_VIEWERS', 1_000);
  const connections = intFromEnv('BENCH_CONNECTIONS', 50);
  const durationS = intFromEnv('BENCH_DURATION_S', 10);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 3);
  const rounds = intFromEnv('BENCH_ROUNDS', 3);
  const only = process.env.BENCH_TARGETS?.split(',');
  // Diagnostic (ADR 19): the users subgraph called directly at this overall rate (req/s), to compare its CPU per
  // request with the one it costs behind the gateway at the same rate; 0 leaves the target out.
  const directRate = intFromEnv('BENCH_DIRECT_RATE', 0);
  // Diagnostic (ADR 19): `direct-as-gateway`, the users subgraph called directly with the bytes our gateway sends
  // it (the planner's query, x-request-id, x-client-ip under the signature), paced as direct-paced when that is set;
  // `=parts` adds one target per difference alone (`direct+query`, `direct+request-id`, `direct+client-ip`).
  const asGateway = process.env.BENCH_DIRECT_AS_GATEWAY;
  // observability.bench.ts sets the OTLP endpoint and sampler for the processes it measures.
  const otel = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('OTEL_') && v)) as Record<
    string,
    string
  >;

  const bench = await startBenchTopology({ env: otel });
  const sql = new pg.Client({ connectionString: bench.database.url });
  await sql.connect();
  try {
    const {
      rows: [user],
    } = await sql.query<{ id: string }>(
      `INSERT INTO users.users (id, username, email, password_hash, updated_at)
       VALUES (gen_random_uuid(), $1::text, $1::text || '@example.com', 'not-a-hash', now()) RETURNING id::text`,
      [USERNAME],
    );
    const { rows: viewerRows } = await sql.query<{ id: string }>(
      `INSERT INTO users.users (id, username, email, password_hash, updated_at)
       SELECT gen_random_uuid(), 'gw_viewer_' || i, 'gw_viewer_' || i || '@example.com', 'not-a-hash', now()
       FROM generate_series(1, $1) i RETURNING id::text`,
      [viewerCount],
    );
    const viewers = await Promise.all(
      viewerRows.map(async ({ id }) => {
        const identity = { userId: id, sessionId: randomUUID() };
        return { identity, token: await issueAccessToken(bench.jwtSecret, identity, 24 * 3600) };
      }),
    );
    const expected = JSON.stringify({ data: { user: { id: user!.id, username: USERNAME } } });
    const body = JSON.stringify({ query: QUERY, variables: { u: USERNAME } });

    const ours = { url: bench.topology.gatewayUrl, pid: bench.topology.instances('gateway')[0]!.pid! };
    const stock = only && !only.includes('stock') ? undefined : await bench.startOther('stock');
    // The same gateway with its single-fetch fast path on (ADR 19, off by default): what it saves, in the same run.
    const fast =
      only && !only.includes('ours-fast')
        ? undefined
        : await bench.startGateway('gateway-fast', { SINGLE_FETCH_FAST_PATH: 'on' });
    const usersUrl = bench.topology.url('users');
    const usersPid = bench.subgraphPids().users!;
    const viaGateway = (n: number): DistinctRequest => ({
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewers[n % viewers.length]!.token}` },
      body,
    });
    const direct = (n: number): DistinctRequest => ({
      headers: {
        'content-type': 'application/json',
        [IDENTITY_HEADER]: signIdentity(bench.signingSecret, viewers[n % viewers.length]!.identity, {
          audience: 'users',
          path: requestPath(usersUrl),
          body,
        }),
      },
      body,
    });
    // What our gateway sends the users subgraph for QUERY: the planner's printed fetch, the variables it uses.
    const gatewayBody = JSON.stringify({
      query: 'query($u:String!){user(username:$u){id username}}',
      variables: { u: USERNAME },
    });
    type GatewayPart = 'query' | 'request-id' | 'client-ip';
    const likeGateway =
      (parts: readonly GatewayPart[]) =>
      (n: number): DistinctRequest => {
        const sent = parts.includes('query') ? gatewayBody : body;
        const clientIp = parts.includes('client-ip') ? '127.0.0.1' : undefined;
        return {
          headers: {
            'content-type': 'application/json',
            ...(parts.includes('request-id') && { 'x-request-id': randomUUID() }),
            ...(clientIp && { [CLIENT_IP_HEADER]: clientIp }),
            [IDENTITY_HEADER]: signIdentity(bench.signingSecret, viewers[n % viewers.length]!.identity, {
              audience: 'users',
              path: requestPath(usersUrl),
              body: sent,
              ...(clientIp && { clientIp }),
            }),
          },
          body: sent,
        };
      };
    const asGatewayTarget = (name: string, parts: readonly GatewayPart[]): Target => ({
      name,
      description: `users subgraph sent our gateway's ${parts.join(', ')}${directRate > 0 ? `, paced at ${directRate} req/s` : ''}`,
      url: usersUrl,
      request: likeGateway(parts),
      pids: { users: usersPid },
      ...(directRate > 0 && { overallRate: directRate }),
    });
    const targets: Target[] = [
      {
        name: 'ours',
        description: 'our gateway (own process) → users subgraph (own process)',
        url: ours.url,
        request: viaGateway,
        pids: { gateway: ours.pid, users: usersPid },
      },
      ...(fast
        ? [
            {
              name: 'ours-fast',
              description: 'our gateway with SINGLE_FETCH_FAST_PATH=on (own process) → users subgraph (own process)',
              url: fast.url,
              request: viaGateway,
              pids: { gateway: fast.pid, users: usersPid },
            },
          ]
        : []),
      ...(stock
        ? [
            {
              name: 'stock',
              description:
                'ApolloGateway defaults + startStandaloneServer (own process); adds only the identity header',
              url: stock.url,
              request: viaGateway,
              pids: { gateway: stock.pid, users: usersPid },
            },
          ]
        : []),
      {
        name: 'direct',
        description: 'users subgraph, identity header signed per request by the load generator',
        url: usersUrl,
        request: direct,
        pids: { users: usersPid } as Record<string, number>,
      },
      ...(directRate > 0
        ? [
            {
              name: 'direct-paced',
              description: `users subgraph as direct, paced at ${directRate} req/s overall`,
              url: usersUrl,
              request: direct,
              pids: { users: usersPid } as Record<string, number>,
              overallRate: directRate,
            },
          ]
        : []),
      ...(asGateway === 'on' || asGateway === 'parts'
        ? [asGatewayTarget('direct-as-gateway', ['query', 'request-id', 'client-ip'])]
        : []),
      ...(asGateway === 'parts'
        ? (['query', 'request-id', 'client-ip'] as const).map((part) => asGatewayTarget(`direct+${part}`, [part]))
        : []),
    ].filter((t) => !only || only.includes(t.name));

    const check = (text: string) => text.trimEnd() === expected;
    const load = (target: Target) => ({
      url: target.url,
      connections,
      durationS,
      request: target.request,
      check,
      ...(target.overallRate && { overallRate: target.overallRate }),
    });
    for (const target of targets) {
      const { headers, body: sent } = target.request(0);
      const text = await answersGraphQL(target.url, headers, sent);
      if (!check(text)) throw new Error(`${target.name}: unexpected answer ${text}`);
      process.stderr.write(`gateway bench: ${target.name} warm-up ${warmupS} s\n`);
      await loadDistinct({ ...load(target), durationS: warmupS });
    }
    const measured = new Map<string, { runs: autocannon.Result[]; cpuMs: Record<string, number>; requests: number }>();
    for (let i = 0; i < rounds; i++) {
      for (const target of i % 2 === 0 ? targets : [...targets].reverse()) {
        process.stderr.write(`gateway bench: round ${i + 1}/${rounds}, ${target.name} ${durationS} s\n`);
        const { result, cpuMsPerRequest } = await cpuPerRequest(
          target.pids,
          () => loadDistinct(load(target)),
          (r) => r.requests.total,
        );
        const entry = measured.get(target.name) ?? { runs: [], cpuMs: {}, requests: 0 };
        entry.runs.push(result);
        for (const [name, ms] of Object.entries(cpuMsPerRequest))
          entry.cpuMs[name] = (entry.cpuMs[name] ?? 0) + ms * result.requests.total;
        entry.requests += result.requests.total;
        measured.set(target.name, entry);
      }
    }

    const results: TargetResult[] = targets.map((t) => {
      const entry = measured.get(t.name)!;
      const each = entry.runs.map((r) => toTargetResult(t.name, t.description, t.url, r));
      const median = (pick: (r: TargetResult) => number) => each.map(pick).sort((a, b) => a - b)[each.length >> 1]!;
      const sum = (pick: (r: TargetResult) => number) => each.reduce((total, r) => total + pick(r), 0);
      return {
        target: t.name,
        description: t.description,
        url: t.url,
        requestsPerSec: round(sum((r) => r.requestsPerSec) / each.length, 1),
        requestsTotal: sum((r) => r.requestsTotal),
        latencyMs: {
          p50: median((r) => r.latencyMs.p50),
          p90: median((r) => r.latencyMs.p90),
          p99: median((r) => r.latencyMs.p99),
          mean: median((r) => r.latencyMs.mean),
          max: Math.max(...each.map((r) => r.latencyMs.max)),
        },
        serverCpuMsPerRequest: round(Object.values(entry.cpuMs).reduce((a, b) => a + b, 0) / entry.requests),
        failures: {
          errors: sum((r) => r.failures.errors),
          timeouts: sum((r) => r.failures.timeouts),
          non2xx: sum((r) => r.failures.non2xx),
          mismatches: sum((r) => r.failures.mismatches),
        },
      };
    });

    const ratios: Record<string, number> = {};
    for (const [a, b] of [
      ['ours', 'stock'],
      ['ours', 'direct'],
      ['ours-fast', 'ours'],
      ['ours-fast', 'direct'],
      ['ours', 'direct-paced'],
      ['direct-as-gateway', 'direct-paced'],
      ['stock', 'direct'],
    ] as const) {
      const x = results.find((r) => r.target === a);
      const y = results.find((r) => r.target === b);
      if (!x || !y) continue;
      ratios[`${a}/${b} req/s`] = round(x.requestsPerSec / y.requestsPerSec);
      if (x.serverCpuMsPerRequest && y.serverCpuMsPerRequest) {
        ratios[`${a}/${b} server CPU per request`] = round(x.serverCpuMsPerRequest / y.serverCpuMsPerRequest);
      }
    }
    return {
      settings: {
        query: QUERY,
        viewers: viewerCount,
        connections,
        durationS,
        warmupS,
        rounds,
        pipelining: 1,
        reqPerSecByRound: Object.fromEntries(
          [...measured].map(([name, entry]) => [name, entry.runs.map((r) => round(r.requests.average, 1))]),
        ),
        cpuMsPerRequestByProcess: Object.fromEntries(
          [...measured].map(([name, entry]) => [
            name,
            Object.fromEntries(Object.entries(entry.cpuMs).map(([p, ms]) => [p, round(ms / entry.requests)])),
          ]),
        ),
        layout:
          'startTopology (compiled bundles): every subgraph and our gateway each their own process; our gateway ' +
          'without the fast path and the stock gateway each their own process; autocannon in the bench process; real Postgres (fresh database), Redis, NATS',
        NODE_ENV: 'production',
        order: targets.map((t) => t.name),
      },
      results,
      ratios,
    };
  } finally {
    await sql.end();
    await bench.stop();
  }
}
