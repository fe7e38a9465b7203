import { availableParallelism, cpus, loadavg, release, totalmem, type, arch } from 'node:os';
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
