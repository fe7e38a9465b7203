import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Private instances of the backing services for fault tests: each on its own port and data directory, so a
 * test may stop, kill and restart it without touching the machine's shared Postgres, Redis and NATS.
 */
export interface PrivateInstance {
  url: string;
  port: number;
  /** Stops the server (graceful); data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A child-process server that is stopped with a signal and started again with the same arguments. */
async function processInstance(
  command: string,
  args: string[],
  port: number,
  url: string,
  dataDir: string,
): Promise<PrivateInstance> {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(command, args, { stdio: 'ignore' });
    await waitForPort(port);
  };
  const stop = async () => {
    if (!child) return;
    const current = child;
    child = undefined;
    current.kill('SIGTERM');
    await exited(current);
  };
  await start();
  return {
    url,
    port,
    start,
    stop,
    destroy: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** nats-server with JetStream, its store in a temp dir. */
export async function startPrivateNats(): Promise<PrivateInstance> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'insta-nats-'));
  return processInstance(
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dataDir],
    port,
    `nats://127.0.0.1:${port}`,
    dataDir,
  );
}

/** redis-server without persistence (as on the machine). */
export async function startPrivateRedis(): Promise<PrivateInstance> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'insta-redis-'));
  return processInstance(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dataDir],
    port,
    `redis://127.0.0.1:${port}`,
    dataDir,
  );
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A Postgres cluster of its own (initdb + pg_ctl of Debian's postgresql-15), run as the `postgres` system user
 * when this process is root (initdb refuses root). `url` is the admin URL of its `postgres` database.
 */
export async function startPrivatePostgres(): Promise<PrivateInstance & { databaseUrl(name: string): string }> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'insta-pg-'));
  const asRoot = process.getuid?.() === 0;
  const exec = (bin: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]) : run(join(PG_BIN, bin), args);
  if (asRoot) await run('chown', ['postgres', dataDir]);
  await exec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dataDir} -c fsync=off -c max_connections=200`;
  const start = async () => {
    await exec('pg_ctl', ['-D', dataDir, '-o', options, '-w', '-l', join(dataDir, 'log'), 'start']);
    await waitForPort(port);
  };
  const stop = async () => {
    await exec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
  };
  await start();
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    start,
    stop,
    databaseUrl: (name: string) => `postgresql://postgres@127.0.0.1:${port}/${name}`,
    destroy: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
