import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './private-postgres.ts';

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface PrivateServer {
  url: string;
  start(): Promise<void>;
  /**
   * Stops the server: SIGKILL by default (a crash: NATS may then redeliver what it had not yet recorded as
   * acknowledged), SIGTERM for a clean shutdown.
   */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  destroy(): Promise<void>;
}

/** A server process of the test's own on a fixed free port, which the test stops and starts again. */
async function privateServer(url: (port: number) => string, command: (port: number, dir: string) => string[]) {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'insta-server-'));
  let child: ChildProcess | undefined;
  const server: PrivateServer = {
    url: url(port),
    async start() {
      if (child) return;
      const [bin, ...args] = command(port, dir);
      child = spawn(bin!, args, { stdio: 'ignore' });
      await waitForPort(port);
    },
    async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') {
      const running = child;
      if (!running) return;
      child = undefined;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill(signal);
      });
    },
    async destroy() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** redis-server without persistence: a restart comes back empty, as after losing Redis. */
export const startPrivateRedis = () =>
  privateServer(
    (port) => `redis://127.0.0.1:${port}`,
    (port) => ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  );

/** nats-server with JetStream, its store in a temporary directory (kept across restarts). */
export const startPrivateNats = () =>
  privateServer(
    (port) => `nats://127.0.0.1:${port}`,
    (port, dir) => ['nats-server', '-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'],
  );
