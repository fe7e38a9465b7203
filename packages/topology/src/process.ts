import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundlePath, REPO_ROOT } from './build.ts';
import { ENTRY_POINTS, type ServiceName } from './services.ts';
import { answers200, waitFor } from './wait.ts';

/** 'dist': node on the compiled bundle (as the image runs it); 'tsx': node --import tsx on the TypeScript entry. */
export type Runtime = 'dist' | 'tsx';

/**
 * V8 flags of every production process (the image sets the same in NODE_OPTIONS when there are any). None today:
 * `--max-semi-space-size=64` showed no measurable CPU gain here and cost the gateway ~6 KiB of RSS per idle
 * websocket (18.4 vs 12.7 KiB per socket with 10,000 open), so it was dropped (ADR 19).
 */
export const PRODUCTION_NODE_FLAGS: readonly string[] = [];

/** The command line of one service process; `nodeArgs` go before the script (e.g. --cpu-prof). */
export function serviceCommand(
  name: ServiceName,
  runtime: Runtime,
  nodeArgs: readonly string[] = [],
): { command: string; args: string[] } {
  const args =
    runtime === 'dist'
      ? ['--enable-source-maps', ...PRODUCTION_NODE_FLAGS, ...nodeArgs, bundlePath(name)]
      : ['--import', 'tsx', ...nodeArgs, join(REPO_ROOT, ENTRY_POINTS[name])];
  return { command: process.execPath, args };
}

/** Every process a launcher started: killed with SIGKILL if the launcher itself exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ManagedProcessOptions {
  /** What the log and errors call it, e.g. `users-0`. */
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Resolves when the process serves; the start fails if the process exits first or this times out. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

/** One OS process the launcher owns: started, restarted, signalled and awaited by its pid. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;
  private spawnError: Error | undefined;

  constructor(private readonly options: ManagedProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    const child = this.child;
    return child !== undefined && !this.spawnError && child.exitCode === null && child.signalCode === null;
  }

  get logFile(): string {
    return this.options.logFile;
  }

  /** Starts the process (again) and resolves when `ready` says so. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.options.label} is already running`);
    const fd = openSync(this.options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.options.command, this.options.args, {
        cwd: REPO_ROOT,
        env: this.options.env,
        stdio: ['ignore', fd, fd],
        // A group of its own: Ctrl-C in a terminal (SIGINT to the foreground group) reaches only the launcher,
        // which stops the processes in order, instead of all of them at once.
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    live.add(child);
    this.spawnError = undefined;
    this.exit = new Promise((resolve) => {
      // A process that could not be spawned (no such binary) ends like one that exited at once.
      child.once('error', (error) => {
        this.spawnError = error;
        live.delete(child);
        resolve(null);
      });
      child.once('exit', (code) => {
        live.delete(child);
        resolve(code);
      });
    });
    try {
      await waitFor(
        `${this.options.label} to be ready`,
        async () => {
          if (!this.running) {
            const how = this.spawnError?.message ?? `exit code ${child.exitCode ?? child.signalCode}`;
            throw new Error(`${this.options.label} ended (${how}) before it was ready`);
          }
          return (await this.options.ready()) ? true : undefined;
        },
        { timeoutMs: this.options.readyTimeoutMs ?? 90_000 },
      );
    } catch (error) {
      if (this.running) await this.kill('SIGKILL');
      const log = await readFile(this.options.logFile, 'utf8').catch(() => '');
      throw new Error(
        `${(error as Error).message}; last lines of ${this.options.logFile}:\n${log.split('\n').slice(-20).join('\n')}`,
      );
    }
  }

  /** Sends `signal` and resolves with the exit code once the process is gone (null when a signal ended it). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.child;
    if (!child || !this.exit) return null;
    if (this.running) child.kill(signal);
    return this.exit;
  }

  /** SIGTERM, then wait for the process to drain and exit. */
  stop(): Promise<number | null> {
    return this.kill('SIGTERM');
  }

  /** Resolves with the exit code when the process ends by itself. */
  exited(): Promise<number | null> {
    return this.exit ?? Promise.resolve(null);
  }
}

export interface Instance {
  name: ServiceName;
  index: number;
  port: number;
  /** http://127.0.0.1:<port>/graphql of this one process. */
  url: string;
  pid: number | undefined;
  logFile: string;
  running: boolean;
  /** Default SIGKILL; resolves with the exit code (null when the signal ended it). */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** (Re)starts on the same port; resolves when /readyz answers 200. */
  start(): Promise<void>;
}

/** One process of a service of the topology. */
export class ServiceInstance implements Instance {
  readonly url: string;
  private readonly process: ManagedProcess;

  constructor(
    readonly name: ServiceName,
    readonly index: number,
    readonly port: number,
    options: { runtime: Runtime; env: Record<string, string>; logDir: string; nodeArgs?: readonly string[] },
  ) {
    const base = `http://127.0.0.1:${port}`;
    this.url = `${base}/graphql`;
    const { command, args } = serviceCommand(name, options.runtime, options.nodeArgs);
    this.process = new ManagedProcess({
      label: `${name}-${index}`,
      command,
      args,
      env: { ...options.env, PORT: String(port) },
      logFile: join(options.logDir, `${name}-${index}.log`),
      ready: () => answers200(`${base}/readyz`),
    });
  }

  get pid() {
    return this.process.pid;
  }
  get running() {
    return this.process.running;
  }
  get logFile() {
    return this.process.logFile;
  }
  start() {
    return this.process.start();
  }
  kill(signal?: NodeJS.Signals) {
    return this.process.kill(signal);
  }
  stop() {
    return this.process.stop();
  }
}
