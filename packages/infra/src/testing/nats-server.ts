import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A private nats-server with JetStream (file storage in a temporary directory) on a free port, for tests that stop
 * and start the broker: the machine's shared NATS is never touched. `stop` and `start` keep the port and the data.
 */
export interface PrivateNatsServer {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and deletes its data. */
  dispose(): Promise<void>;
}

export async function startPrivateNatsServer(binary = process.env.NATS_SERVER_PATH ?? 'nats-server') {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'nats-test-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    const started = spawn(binary, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    child = started;
    const failed = once(started, 'exit').then(([code]) => {
      throw new Error(`nats-server exited with ${String(code)}`);
    });
    failed.catch(() => undefined);
    for (;;) {
      if (await Promise.race([accepts(port), failed])) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  const server: PrivateNatsServer = {
    url: `nats://127.0.0.1:${port}`,
    stop,
    start,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
