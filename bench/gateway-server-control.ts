/**
 * The in-process server pair the observability bench switches settings on (gateway.server.ts in a child process:
 * our gateway and the users subgraph), and the one-hop query it loads them with.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ServerUrls } from './gateway.server.ts';

export const QUERY = 'query($u: String!) { user(username: $u) { id username } }';
export const USERNAME = 'bench_user';

export function startServers(databaseUrl: string): Promise<{ child: ChildProcess; urls: ServerUrls }> {
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const child = fork(new URL('./gateway.server.ts', import.meta.url), {
    execArgv: ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, urls: (message as { urls: ServerUrls }).urls }));
    child.once('exit', (code) => reject(new Error(`server process exited early (code ${code})`)));
  });
}

/** CPU time (user + system, ms) the server process has used so far. */
export function serverCpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const cpu = (message as { cpu?: NodeJS.CpuUsage }).cpu;
      if (!cpu) return;
      child.off('message', onMessage);
      resolve((cpu.user + cpu.system) / 1000);
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

export function stopServers(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('stop');
  });
}
