/**
 * Throughput and latency of one small query through our gateway, a stock Apollo gateway, and straight to the users
 * subgraph. Servers run in one child process (gateway.server.ts), the load generator (autocannon) here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { createPrismaClient } from '@insta/db';
import { createTestDatabase } from '@insta/db/testing';
import { IDENTITY_HEADER, requestPath, signIdentity } from '@insta/infra';
import { TEST_SECRETS } from '@insta/infra/testing';
import type { ServerUrls } from './gateway.server.ts';
import { intFromEnv, load, toTargetResult, type BenchReport, type TargetResult } from './lib.ts';

export const QUERY = 'query($u: String!) { user(username: $u) { id username } }';
export const USERNAME = 'bench_user';

const TARGETS: { name: keyof ServerUrls; description: string }[] = [
  { name: 'ours', description: 'createGatewayServer (undici fetcher, Redis KeyValueStore) → users subgraph' },
  {
    name: 'stock',
    description: 'ApolloGateway defaults + startStandaloneServer; data source only adds the identity header',
  },
  { name: 'direct', description: 'users subgraph, signed identity header sent by the load generator' },
];

export function startServers(databaseUrl: string): Promise<{ child: ChildProcess; urls: ServerUrls }> {
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const child = fork(new URL('./gateway.server.ts', import.meta.url), {
    execArgv: ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, urls: (message as { urls: ServerUrls }).urls }));
    child.once('exit', (code) => reject(new Error(`server process exited early (code ${code})`)));
  });
}

/** CPU time (user + system, ms) the server process has used so far. */
export function serverCpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const cpu = (message as { cpu?: NodeJS.CpuUsage }).cpu;
      if (!cpu) return;
      child.off('message', onMessage);
      resolve((cpu.user + cpu.system) / 1000);
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

export function stopServers(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('stop');
  });
}

export default async function gatewayBench(): Promise<BenchReport> {
  const connections = intFromEnv('BENCH_CONNECTIONS', 50);
  const durationS = intFromEnv('BENCH_DURATION_S', 10);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 3);
  const only = process.env.BENCH_TARGETS?.split(',');
  const targets = only ? TARGETS.filter((t) => only.includes(t.name)) : TARGETS;
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
    const body = JSON.stringify({ query: QUERY, variables: { u: USERNAME } });
    const results: TargetResult[] = [];
    for (const target of targets) {
      const url = servers.urls[target.name];
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (target.name === 'direct') {
        headers[IDENTITY_HEADER] = signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, null, {
          audience: 'users',
          path: requestPath(url),
          body,
        });
      }

      const check = await fetch(url, { method: 'POST', headers, body });
      const expectBody = await check.text();
      if (check.status !== 200 || !isDeepStrictEqual(JSON.parse(expectBody), expected)) {
        throw new Error(`${target.name}: unexpected response ${check.status} ${expectBody}`);
      }
      process.stderr.write(`gateway bench: ${target.name} ${url} (warm-up ${warmupS} s, then ${durationS} s)\n`);
      const options = { url, connections, headers, body, expectBody };
      await load({ ...options, durationS: warmupS });
      const cpuBefore = await serverCpuMs(servers.child);
      const result = toTargetResult(target.name, target.description, url, await load({ ...options, durationS }));
      const cpuMs = (await serverCpuMs(servers.child)) - cpuBefore;
      results.push({ ...result, serverCpuMsPerRequest: Math.round((cpuMs / result.requestsTotal) * 1000) / 1000 });
    }

    const round3 = (n: number) => Math.round(n * 1000) / 1000;
    const ratios: Record<string, number> = {};
    for (const [a, b] of [
      ['ours', 'stock'],
      ['ours', 'direct'],
      ['stock', 'direct'],
    ] as const) {
      const x = results.find((r) => r.target === a);
      const y = results.find((r) => r.target === b);
      if (!x || !y) continue;
      ratios[`${a}/${b} req/s`] = round3(x.requestsPerSec / y.requestsPerSec);
      if (x.serverCpuMsPerRequest && y.serverCpuMsPerRequest) {
        ratios[`${a}/${b} server CPU per request`] = round3(x.serverCpuMsPerRequest / y.serverCpuMsPerRequest);
      }
    }
    return {
      settings: {
        query: QUERY,
        connections,
        durationS,
        warmupS,
        pipelining: 1,
        layout:
          'one server process (users subgraph + our gateway + stock gateway, only the target under load is busy) ' +
          'and the load generator (autocannon) in the parent process, over loopback; real Postgres (fresh database), ' +
          'real Redis for the KV store, in-process event bus (unused by this query)',
        NODE_ENV: 'production',
        dbPoolSize: 10,
        order: targets.map((t) => t.name),
      },
      results,
      ratios,
    };
  } finally {
    if (child) await stopServers(child);
    await database.drop();
  }
}
