/**
 * Overhead of tracing on the gateway bench's "ours" target (our gateway → users subgraph), in one run: tracing
 * off (no provider), sampled at 10 % and at 100 %, exporting over OTLP/HTTP to a sink in this process that
 * counts what it receives. Metrics are always on (every target of every bench includes them).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import gatewayBench from './gateway.bench.ts';
import type { BenchReport, TargetResult } from './lib.ts';

const SETTINGS = [
  { target: 'tracing off', ratio: null },
  { target: 'tracing 10%', ratio: '0.1' },
  { target: 'tracing 100%', ratio: '1' },
] as const;

export default async function observabilityBench(): Promise<BenchReport> {
  let exports = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const saved = { ...process.env };
  const results: TargetResult[] = [];
  const exportsBy: Record<string, number> = {};
  try {
    for (const setting of SETTINGS) {
      process.env.BENCH_TARGETS = 'ours';
      if (setting.ratio) {
        process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
        process.env.OTEL_TRACES_SAMPLER_ARG = setting.ratio;
      } else {
        delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
        delete process.env.OTEL_TRACES_SAMPLER_ARG;
      }
      const before = exports;
      const report = await gatewayBench();
      exportsBy[setting.target] = exports - before;
      results.push({ ...report.results[0]!, target: setting.target });
    }
  } finally {
    process.env = saved;
    sink.close();
  }
  const off = results[0]!;
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  const ratios: Record<string, number> = {};
  for (const result of results.slice(1)) {
    ratios[`${result.target}/off req/s`] = round3(result.requestsPerSec / off.requestsPerSec);
    if (result.serverCpuMsPerRequest && off.serverCpuMsPerRequest) {
      ratios[`${result.target}/off server CPU per request`] = round3(
        result.serverCpuMsPerRequest / off.serverCpuMsPerRequest,
      );
    }
  }
  return {
    settings: {
      base: 'gateway bench, target "ours" (see gateway.json for its settings)',
      exporter: 'OTLP/HTTP (BatchSpanProcessor) to a local sink that answers 200',
      otlpExportRequests: exportsBy,
    },
    results,
    ratios,
  };
}
