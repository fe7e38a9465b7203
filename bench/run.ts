/**
 * `npm run bench [-- name...]`: runs every bench/<name>.bench.ts (or the named ones), writes
 * bench/results/<name>.json and prints a table. Exits 1 if a benchmark fails or any request errored.
 */
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { prepareTemplateDatabase } from '@insta/db/testing';
import { failureCount, loadAverage, machineFacts, type BenchReport } from './lib.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

// Each bench deployment makes its own streams on the shared NATS, which reserves their max_bytes (see
// NATS_STREAM_MAX_BYTES in packages/infra/src/bus/nats.ts); the processes a bench starts inherit this.
process.env.NATS_STREAM_MAX_BYTES ??= String(256 * 2 ** 20);

const wanted = process.argv.slice(2);
const names = (await readdir(benchDir))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort();
if (names.length === 0) throw new Error(`No benchmark matches ${wanted.join(', ')}`);

const pad = (s: string | number, n: number) => String(s).padStart(n);
let failed = false;
// Benchmarks copy their databases from a template migrated once per run (as the tests do).
const dropTemplate = await prepareTemplateDatabase();
for (const name of names) {
  const loadAverageAtStart = loadAverage();
  const started = Date.now();
  const module = (await import(`./${name}.bench.ts`)) as { default: () => Promise<BenchReport> };
  let report: BenchReport;
  try {
    report = await module.default();
  } catch (error) {
    console.error(`${name}: failed`, error);
    failed = true;
    continue;
  }
  const elapsedS = Math.round((Date.now() - started) / 100) / 10;

  console.log(`\n${name} (${elapsedS} s)`);
  console.log(
    `${'target'.padEnd(8)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('cpu ms/req', 12)}${pad('failed', 9)}`,
  );
  for (const r of report.results) {
    console.log(
      `${r.target.padEnd(8)}${pad(Math.round(r.requestsPerSec), 10)}${pad(r.latencyMs.p50, 9)}${pad(r.latencyMs.p99, 9)}${pad(r.serverCpuMsPerRequest ?? '-', 12)}${pad(failureCount(r), 9)}`,
    );
  }
  for (const [k, v] of Object.entries(report.ratios)) console.log(`${k}: ${v}`);

  const errored = report.results.filter((r) => failureCount(r) > 0);
  if (errored.length > 0) {
    console.error(
      `${name}: requests failed (${errored.map((r) => `${r.target}: ${JSON.stringify(r.failures)}`).join('; ')}); results not written`,
    );
    failed = true;
    continue;
  }
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}${name}.json`;
  const json = {
    name,
    date: new Date(started).toISOString(),
    elapsedS,
    machine: { ...machineFacts(), loadAverageAtStart, loadAverageAtEnd: loadAverage() },
    ...report,
  };
  await writeFile(`${file}.tmp`, `${JSON.stringify(json, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
  console.log(`→ bench/results/${name}.json`);
}
await dropTemplate();
process.exitCode = failed ? 1 : 0;
