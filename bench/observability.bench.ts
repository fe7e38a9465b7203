/**
 * What observability costs on the gateway bench's "ours" target (our gateway → users subgraph, one server process),
 * in one run with alternating rounds: metrics off, metrics only (tracing off: the default), metrics + tracing
 * sampled at 10 % and at 100 %, exporting over OTLP/HTTP to a sink in this process that counts what it receives.
 * The settings are switched inside the one server process between rounds (gateway.server.ts), so each round of
 * each setting runs on the same process, database and caches, and the machine's noise falls on all of them alike.
 *
 * BENCH_ROUNDS (default 4) rounds of BENCH_WARMUP_S + BENCH_DURATION_S (2 + 10 s) per setting;
 * BENCH_CONNECTIONS (16). Quick: BENCH_ROUNDS=1 BENCH_DURATION_S=3.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { createPrismaClient } from '@insta/db';
import { createTestDatabase } from '@insta/db/testing';
import { QUERY, USERNAME, serverCpuMs, startServers, stopServers } from './gateway-server-control.ts';
import { intFromEnv, load, loadAverage, toTargetResult, type BenchReport, type TargetResult } from './lib.ts';

const SETTINGS = [
  { target: 'metrics off', metrics: false, ratio: null },
  { target: 'metrics only', metrics: true, ratio: null },
  { target: 'metrics + tracing 10%', metrics: true, ratio: 0.1 },
  { target: 'metrics + tracing 100%', metrics: true, ratio: 1 },
] as const;
type Setting = (typeof SETTINGS)[number];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round3 = (n: number) => Math.round(n * 1000) / 1000;

function observe(child: ChildProcess, setting: Setting, endpoint: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!(message as { observed?: boolean }).observed) return;
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
    child.send({
      observability: { metrics: setting.metrics, tracing: setting.ratio ? { endpoint, ratio: setting.ratio } : null },
    });
  });
}

export default async function observabilityBench(): Promise<BenchReport> {
  const rounds = intFromEnv('BENCH_ROUNDS', 4);
  // Fewer than the gateway bench's 50: on a shared 2-core machine 50 queue past autocannon's 10 s timeout.
  const connections = intFromEnv('BENCH_CONNECTIONS', 16);
  const durationS = intFromEnv('BENCH_DURATION_S', 10);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 2);
  // Export requests, counted for the setting in force (a flush when tracing is turned off counts for it).
  const exportsBy: Record<string, number> = Object.fromEntries(SETTINGS.map((s) => [s.target, 0]));
  let current: string = SETTINGS[0].target;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exportsBy[current]!++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const database = await createTestDatabase();
  let child: ChildProcess | undefined;
  try {
    const db = createPrismaClient({ url: database.url, poolSize: 1 });
    const user = await db.user.create({
      data: { username: USERNAME, email: 'bench_user@example.com', passwordHash: 'not-a-hash' },
    });
    await db.$disconnect();
    const expected = { data: { user: { id: user.id, username: USERNAME } } };
    const servers = await startServers(database.url);
    child = servers.child;
    const url = servers.urls.ours;
    const body = JSON.stringify({ query: QUERY, variables: { u: USERNAME } });
    const check = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const expectBody = await check.text();
    if (check.status !== 200 || !isDeepStrictEqual(JSON.parse(expectBody), expected))
      throw new Error(`unexpected response ${check.status} ${expectBody}`);
    const options = { url, connections, headers: { 'content-type': 'application/json' }, body, expectBody };

    const perRound: Record<string, TargetResult[]> = Object.fromEntries(SETTINGS.map((s) => [s.target, []]));
    const loadByRound: number[][] = [];
    // Unmeasured: JIT and caches warm before the first measured round, so it does not fall on the first setting.
    process.stderr.write(`observability bench: warming up (${warmupS * 3} s)\n`);
    await load({ ...options, durationS: warmupS * 3 });
    for (let round = 0; round < rounds; round++) {
      // Alternate the order too (forward, then backward), so no setting always follows the same one.
      const order = round % 2 === 0 ? SETTINGS : [...SETTINGS].reverse();
      loadByRound.push(loadAverage());
      for (const setting of order) {
        await observe(child, setting, endpoint);
        current = setting.target;
        process.stderr.write(`observability bench: round ${round + 1}/${rounds}, ${setting.target}\n`);
        await load({ ...options, durationS: warmupS });
        const cpuBefore = await serverCpuMs(child);
        const result = toTargetResult(setting.target, 'gateway → users', url, await load({ ...options, durationS }));
        const cpuMs = (await serverCpuMs(child)) - cpuBefore;
        const cpuMsPerRequest = round3(cpuMs / result.requestsTotal);
        perRound[setting.target]!.push({ ...result, serverCpuMsPerRequest: cpuMsPerRequest });
        process.stderr.write(`  ${result.requestsPerSec} req/s, ${cpuMsPerRequest} CPU ms/request\n`);
      }
    }

    // One result per setting: the round of median CPU per request, with every round's figures in settings.
    const results: TargetResult[] = SETTINGS.map((s) => {
      const all = perRound[s.target]!;
      const mid = median(all.map((r) => r.serverCpuMsPerRequest!));
      const chosen = all.find((r) => r.serverCpuMsPerRequest === mid) ?? all[0]!;
      return {
        ...chosen,
        requestsPerSec: round3(median(all.map((r) => r.requestsPerSec))),
        serverCpuMsPerRequest: round3(mid),
      };
    });
    const by = (target: string) => results.find((r) => r.target === target)!;
    const ratios: Record<string, number> = {};
    for (const [a, b] of [
      ['metrics only', 'metrics off'],
      ['metrics + tracing 10%', 'metrics only'],
      ['metrics + tracing 100%', 'metrics only'],
      ['metrics + tracing 10%', 'metrics off'],
      ['metrics + tracing 100%', 'metrics off'],
    ] as const) {
      ratios[`${a} / ${b}: server CPU per request`] = round3(
        by(a).serverCpuMsPerRequest! / by(b).serverCpuMsPerRequest!,
      );
      ratios[`${a} / ${b}: req/s`] = round3(by(a).requestsPerSec / by(b).requestsPerSec);
    }
    return {
      settings: {
        base: 'gateway bench, target "ours": createGatewayServer → users subgraph in one process, autocannon here',
        query: QUERY,
        rounds,
        connections,
        warmupS,
        durationS,
        alternation: 'every round runs each setting once, forward on even rounds and backward on odd ones',
        figures: 'per setting: median over the rounds of req/s and of server CPU ms per request',
        metricsOff:
          "every series' observe/inc/dec/set/startTimer replaced by no-ops (default Node metrics' hooks stay)",
        exporter: 'OTLP/HTTP (BatchSpanProcessor) to a local sink that answers 200',
        otlpExportRequests: exportsBy,
        loadAverageByRound: loadByRound,
        rounds_detail: Object.fromEntries(
          SETTINGS.map((s) => [
            s.target,
            perRound[s.target]!.map((r) => ({
              requestsPerSec: r.requestsPerSec,
              cpuMsPerRequest: r.serverCpuMsPerRequest,
            })),
          ]),
        ),
      },
      results,
      ratios,
    };
  } finally {
    if (child) await stopServers(child);
    await database.drop();
    sink.close();
  }
}
