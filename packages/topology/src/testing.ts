import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { REPO_ROOT, ensureBuilt } from './build.ts';
import { serviceCommand, type Runtime } from './process.ts';
import type { ServiceName } from './services.ts';

/**
 * One service process for a test, its output captured: the compiled bundle by default (built first when out
 * of date), as production runs it.
 */
export async function spawnService(name: ServiceName, env: Record<string, string>, runtime: Runtime = 'dist') {
  if (runtime === 'dist') await ensureBuilt();
  const { command, args } = serviceCommand(name, runtime);
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, output: () => output, exited };
}

export interface HeldRequest {
  /** Sends the body: the server can now answer. */
  release(): void;
  /** The response, once released and answered. */
  response: Promise<{ status: number; body: string }>;
}

/**
 * A POST the server has received and started handling (its headers parsed, its handler waiting for the body)
 * but cannot finish until `release()`: an in-flight request for as long as a test needs one. The server's
 * `100 Continue` (Node answers `Expect: 100-continue` when it dispatches the request) says it is in flight.
 */
export async function holdRequest(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HeldRequest> {
  const payload = Buffer.from(body);
  const req = request(url, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': payload.length,
      expect: '100-continue',
      ...headers,
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
  response.catch(() => undefined);
  req.flushHeaders();
  await Promise.race([
    once(req, 'continue'),
    response.then(() => Promise.reject(new Error('answered before the body'))),
  ]);
  return { release: () => req.end(payload), response };
}

/** Deletes the JetStream streams a test run created under its deployment prefix (and no others). */
export async function deleteStreams(natsUrl: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(stream.config.name);
    }
  } finally {
    await nc.close();
  }
}
