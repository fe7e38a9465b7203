import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ManagedProcess } from './process.ts';

/** Debian's haproxy (`apt-get install haproxy`). */
export const HAPROXY_PATH = '/usr/sbin/haproxy';

export interface BalancedService {
  name: string;
  /** Where the balancer listens on 127.0.0.1. */
  port: number;
  /** The replicas' ports on 127.0.0.1. */
  servers: number[];
}

/**
 * HAProxy in front of replicated services, as a Kubernetes Service or a cloud load balancer would be: round robin,
 * a replica whose /readyz fails leaves the pool, and a request whose connection a dead or draining replica refuses
 * is sent to another (`retries` + `option redispatch`). Only connection failures are retried: a request a replica
 * accepted is never replayed, since a mutation might have run.
 */
export function haproxyConfig(services: BalancedService[]): string {
  const lines = [
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 500ms',
    '  timeout client 70s',
    '  timeout server 60s',
    '  timeout http-keep-alive 70s',
    // Websockets (graphql-ws to the gateway) stay open as long as the client keeps them.
    '  timeout tunnel 1h',
    '  retries 3',
    '  retry-on conn-failure',
    '  option redispatch 1',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  default-server inter 1s fastinter 250ms downinter 250ms fall 2 rise 1',
  ];
  for (const service of services) {
    lines.push(
      '',
      `frontend ${service.name}`,
      `  bind 127.0.0.1:${service.port}`,
      `  default_backend ${service.name}`,
      '',
      `backend ${service.name}`,
      '  balance roundrobin',
      ...service.servers.map((port, index) => `  server ${service.name}-${index} 127.0.0.1:${port} check`),
    );
  }
  return `${lines.join('\n')}\n`;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Writes the config to `dir` and starts haproxy in the foreground; ready when every frontend accepts. */
export async function startHaproxy(
  services: BalancedService[],
  options: { dir: string; logFile: string; haproxyPath?: string },
): Promise<ManagedProcess> {
  const binary = options.haproxyPath ?? HAPROXY_PATH;
  if (!existsSync(binary)) {
    throw new Error(`Replicas need haproxy at ${binary} (Debian: apt-get install -y haproxy)`);
  }
  const configFile = join(options.dir, 'haproxy.cfg');
  await writeFile(configFile, haproxyConfig(services));
  const balancer = new ManagedProcess({
    label: 'haproxy',
    command: binary,
    args: ['-db', '-f', configFile],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    logFile: options.logFile,
    ready: async () => (await Promise.all(services.map((s) => accepts(s.port)))).every(Boolean),
  });
  await balancer.start();
  return balancer;
}
