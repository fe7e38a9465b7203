import { availableParallelism, cpus, loadavg, release, totalmem, type, arch } from 'node:os';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/** One measured target of a benchmark. */
export interface TargetResult {
  target: string;
  description: string;
  url: string;
  requestsPerSec: number;
  requestsTotal: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** CPU time of the server process per request (excludes Postgres and Redis); steadier than req/s on a busy machine. */
  serverCpuMsPerRequest?: number;
  /** Connection errors (timeouts included), non-2xx responses, bodies other than the expected one (GraphQL errors). */
  failures: { errors: number; timeouts: number; non2xx: number; mismatches: number };
}

/** What a `bench/<name>.bench.ts` default export resolves to; run.ts adds the machine and the date. */
export interface BenchReport {
  settings: Record<string, unknown>;
  results: TargetResult[];
  ratios: Record<string, number>;
}

export function machineFacts() {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()} ${arch()}`,
  };
}

/** 1, 5 and 15 minute load averages: a busy machine shows here. */
export const loadAverage = () => loadavg().map((n) => Math.round(n * 100) / 100);

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
  body: string;
  /** Every response body must equal this, else it counts as a mismatch. */
  expectBody: string;
}

export async function load(options: LoadOptions): Promise<autocannon.Result> {
  return autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    method: 'POST',
    headers: options.headers,
    body: options.body,
    expectBody: options.expectBody,
  });
}

export function toTargetResult(target: string, description: string, url: string, r: autocannon.Result): TargetResult {
  return {
    target,
    description,
    url,
    requestsPerSec: r.requests.average,
    requestsTotal: r.requests.total,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.mean, max: r.latency.max },
    failures: { errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, mismatches: r.mismatches },
  };
}

export const failureCount = (r: TargetResult) => r.failures.errors + r.failures.non2xx + r.failures.mismatches;

export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** One request of a distinct-viewer load: the `n`th request sent by the load generator. */
export interface DistinctRequest {
  headers: Record<string, string>;
  body: string;
}

export interface DistinctLoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Builds the `n`th request (n counts from 0 over the whole run): each can be a different viewer. */
  request: (n: number) => DistinctRequest;
  /** False when a 200 body is not the expected answer (GraphQL errors, a short page); counted as a mismatch. */
  check: (body: string) => boolean;
  /** Requests per second over all connections; unset: as fast as the target answers. */
  overallRate?: number;
  /** Stop after this many requests instead of after `durationS` (autocannon then ignores the duration). */
  amount?: number;
}

/**
 * autocannon with a request built afresh for every send (a viewer per request, headers signed per request) and
 * every response body checked; mismatches are added to the result's `mismatches`.
 */
export async function loadDistinct(options: DistinctLoadOptions): Promise<autocannon.Result> {
  let n = 0;
  let mismatches = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    // A shared two-core box under five engineers' loads can hold a page past autocannon's default 10 s.
    timeout: 30,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    ...(options.amount ? { amount: options.amount } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const next = options.request(n++);
          return { ...request, method: 'POST', headers: next.headers, body: next.body };
        },
        onResponse: (status, body) => {
          if (status === 200 && !options.check(body)) mismatches++;
        },
      },
    ],
  });
  return { ...result, mismatches: result.mismatches + mismatches };
}

/** Linux clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on every Linux build in use). */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU time (ms) a process has used so far, read from /proc/<pid>/stat (Linux only). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (2nd field) may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time of each named process over `run`: ms per request of `requests(result)`. */
export async function cpuPerRequest<T>(
  pids: Record<string, number>,
  run: () => Promise<T>,
  requests: (result: T) => number,
): Promise<{ result: T; cpuMsPerRequest: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]));
  const result = await run();
  const count = Math.max(1, requests(result));
  const cpuMsPerRequest = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [
      name,
      Math.round(((processCpuMs(pid) - before[name]!) / count) * 1000) / 1000,
    ]),
  );
  return { result, cpuMsPerRequest };
}
