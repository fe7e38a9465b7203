#!/usr/bin/env node
// Stand-in for Prisma's native schema-engine binary (see PRISMA_SCHEMA_ENGINE_BINARY), for machines that cannot
// download it. It speaks the binary's newline-delimited JSON-RPC on stdin/stdout and its `cli` subcommands, and runs
// the same engine compiled to Wasm (@prisma/schema-engine-wasm) over @prisma/adapter-pg. PostgreSQL only.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as wasmBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';

class UserFacingError extends Error {
  constructor(errorCode, message) {
    super(message);
    this.name = 'UserFacingError';
    this.errorCode = errorCode;
  }
}

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    version: { type: 'boolean' },
    datamodels: { type: 'string', multiple: true },
    datasource: { type: 'string' },
    'enabled-preview-features': { type: 'string' },
    'extension-types': { type: 'string' },
  },
});
/** @type {{ url?: string; shadowDatabaseUrl?: string }} */
const datasource = flags.datasource ? JSON.parse(flags.datasource) : {};

if (flags.version) {
  await loadWasm();
  process.stdout.write(`schema-engine-cli ${wasmBindings.version()}\n`);
} else if (positionals[0] === 'cli') {
  process.exitCode = await runCliCommand(positionals[1]);
} else {
  await serveJsonRpc();
}

// Node 20 cannot `import` a .wasm file, so the bindings' entry module is replaced by this hand instantiation.
async function loadWasm() {
  const require = createRequire(import.meta.url);
  const wasmPath = join(dirname(require.resolve('@prisma/schema-engine-wasm')), 'schema_engine_bg.wasm');
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { './schema_engine_bg.js': wasmBindings });
  wasmBindings.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
}

// ---------------------------------------------------------------- JSON-RPC

async function serveJsonRpc() {
  let engine;
  let queue = Promise.resolve();
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    // Lines without a method are the CLI's acknowledgements of our `print` requests.
    if (typeof message.method !== 'string') return;
    queue = queue.then(async () => {
      try {
        engine ??= await createEngine();
        send({
          jsonrpc: '2.0',
          id: message.id,
          result: (await dispatch(engine, message.method, message.params)) ?? {},
        });
      } catch (error) {
        send({ jsonrpc: '2.0', id: message.id, error: toRpcError(error) });
      }
    });
  });
  lines.on('close', () => queue.then(() => process.exit(0)));
}

async function createEngine() {
  await loadWasm();
  const datamodels = (flags.datamodels ?? []).map((path) => [path, readFileSync(path, 'utf8')]);
  const log = (line) => process.stderr.write(`${line}\n`);
  return wasmBindings.SchemaEngine.new(
    { datamodels: datamodels.length > 0 ? datamodels : undefined },
    log,
    adapterFactory(),
  );
}

async function dispatch(engine, method, params) {
  switch (method) {
    case 'getDatabaseVersion':
      return engine.version(params);
    case 'createDatabase':
      return createDatabase(params);
    case 'diff': {
      // The native engine prints the diff through a `print` request instead of returning it.
      const { stdout, ...result } = await engine.diff(params);
      if (stdout)
        send({ jsonrpc: '2.0', id: randomUUID(), method: 'print', params: { content: stdout.replace(/\n$/, '') } });
      return result;
    }
    case 'createMigration':
    case 'evaluateDataLoss':
      return withWarmMigrationCache(engine, method, params);
    default:
      if (method === 'free' || typeof engine[method] !== 'function') {
        throw Object.assign(new Error(`Method not found: ${method}`), { rpcCode: -32601 });
      }
      return engine[method](params);
  }
}

// The Wasm engine computes the schema of the migration history only in diagnoseMigrationHistory/devDiagnostic (the
// calls that receive the shadow-database factory); createMigration and evaluateDataLoss can only read it from the
// engine's cache, keyed by the list of migrations. Diagnosing fills the cache for the migrations applied to the database.
async function withWarmMigrationCache(engine, method, params) {
  try {
    return await engine[method](params);
  } catch (error) {
    if (!String(error?.message).includes('shadow DB must be provided through an external factory')) throw error;
  }
  const { migrationsList, filters } = params;
  await engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: true, filters });
  try {
    return await engine[method](params);
  } catch (error) {
    if (!String(error?.message).includes('shadow DB must be provided through an external factory')) throw error;
    throw new UserFacingError(
      null,
      'The offline schema engine can only diff against a fully applied migration history: apply the pending migrations (prisma migrate deploy) and retry.',
    );
  }
}

async function createDatabase({ datasource: param }) {
  if (param.tag !== 'ConnectionString') throw new UserFacingError(null, 'createDatabase needs a connection string');
  const name = databaseName(param.url);
  await withAdminClient(param.url, (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
  return { databaseName: name };
}

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function toRpcError(error) {
  if (error.rpcCode) return { code: error.rpcCode, message: error.message };
  const panicked = error instanceof WebAssembly.RuntimeError;
  return {
    code: 4466,
    message: 'An error happened. Check the data field for details.',
    data: {
      is_panic: panicked,
      message: error.message ?? String(error),
      error_code: error.errorCode ?? error.code ?? null,
      meta: error.meta ?? null,
      ...(panicked ? { backtrace: error.stack } : {}),
    },
  };
}

// ---------------------------------------------------------------- driver adapter

function adapterFactory() {
  return bindMigrationAwareSqlAdapterFactory({
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => connectAdapter(requireUrl()),
    connectToShadowDb: () =>
      datasource.shadowDatabaseUrl
        ? connectAdapter(datasource.shadowDatabaseUrl)
        : connectTemporaryDatabase(requireUrl()),
  });
}

function requireUrl() {
  if (!datasource.url) throw new UserFacingError(null, 'No datasource url: set datasource.url in prisma.config.ts');
  return datasource.url;
}

async function connectAdapter(connectionString) {
  // A single session, like the native engine: its pg_advisory_lock is session-scoped and only ends with the connection.
  const pool = new pg.Pool({ connectionString, max: 1 });
  const adapter = await new PrismaPg(pool, { disposeExternalPool: true }).connect();
  reportCharAsText(adapter);
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel) => reportCharAsText(await startTransaction(isolationLevel));
  // adapter-pg splits scripts on ";" (breaking dollar-quoted bodies) and runs the pieces one by one. Like the native
  // engine, send the script as one simple query, which Postgres runs in one implicit transaction.
  adapter.executeScript = async (script) => {
    try {
      await pool.query(script);
    } catch (error) {
      adapter.onError(error);
    }
  };
  const dispose = adapter.dispose.bind(adapter);
  let disposed;
  adapter.dispose = () => (disposed ??= dispose());
  return adapter;
}

// adapter-pg 7.10 rejects columns of Postgres' internal "char" type (OID 18), which the engine's catalog queries select.
function reportCharAsText(queryable) {
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    for (const field of result.fields) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  return queryable;
}

// PrismaPg's own shadow database ignores the database override for connection strings and drops the database while its
// pool still holds connections to it.
async function connectTemporaryDatabase(url) {
  const name = `prisma_migrate_shadow_db_${randomUUID()}`;
  await withClient(url, (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const drop = () =>
    withClient(url, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
  const adapter = await connectAdapter(withDatabase(url, name)).catch(async (error) => {
    await drop();
    throw error;
  });
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await dispose();
    await drop();
  };
  return adapter;
}

// ---------------------------------------------------------------- `cli` subcommands

async function runCliCommand(command) {
  const url = datasource.url ?? '';
  try {
    requireUrl();
    switch (command) {
      case 'can-connect-to-database':
        await withClient(url, () => undefined);
        break;
      case 'create-database':
        await withAdminClient(url, (client) => client.query(`CREATE DATABASE ${quoteIdent(databaseName(url))}`));
        break;
      case 'drop-database':
        await withAdminClient(url, (client) => client.query(`DROP DATABASE ${quoteIdent(databaseName(url))}`));
        break;
      default:
        throw new UserFacingError(null, `Unknown cli command: ${command}`);
    }
    return 0;
  } catch (error) {
    const { errorCode, message } = error instanceof UserFacingError ? error : describePgError(error, url);
    // The CLI skips the first stderr line and reads the schema_engine::logger ERROR record among the rest.
    logRecord('INFO', { message: 'Starting schema engine CLI' });
    logRecord('ERROR', { message, ...(errorCode ? { error_code: errorCode } : {}) });
    return 1;
  }
}

function logRecord(level, fields) {
  process.stderr.write(
    `${JSON.stringify({ timestamp: new Date().toISOString(), level, fields, target: 'schema_engine::logger' })}\n`,
  );
}

// The messages and codes of Prisma's P1xxx common errors.
function describePgError(error, url) {
  const { hostname, port } = new URL(url);
  const server = `${hostname}:${port || 5432}`;
  const database = databaseName(url);
  switch (error.code) {
    case '3D000':
      return new UserFacingError(
        'P1003',
        `Database \`${database}\` does not exist on the database server at \`${server}\`.`,
      );
    case '42P04':
      return new UserFacingError(
        'P1009',
        `Database \`${database}\` already exists on the database server at \`${server}\``,
      );
    case '28000':
    case '28P01':
      return new UserFacingError(
        'P1000',
        `Authentication failed against database server at \`${server}\`: ${error.message}`,
      );
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
      return new UserFacingError('P1001', `Can't reach database server at \`${server}\``);
    default:
      return new UserFacingError(null, error.message);
  }
}

// ---------------------------------------------------------------- pg helpers

async function withClient(connectionString, use) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// CREATE/DROP DATABASE must run from another database, as the native engine does from `postgres`.
function withAdminClient(url, use) {
  return withClient(withDatabase(url, 'postgres'), use);
}

function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.href;
}

function databaseName(url) {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
}

function quoteIdent(name) {
  return `"${name.replaceAll('"', '""')}"`;
}
