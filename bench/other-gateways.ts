/**
 * The gateways ours is compared with, each in a process of its own (stock-gateway.process.ts,
 * hive-gateway.process.ts), and what they share: the supergraph pointed at the topology's subgraphs, and the
 * signed identity header our subgraphs demand (ADR 3), made from the client's access token as our gateway does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { encodePrincipal, verifyAccessToken, type Principal } from '@insta/infra';

export type OtherGateway = 'stock' | 'hive';

const SUPERGRAPH = new URL('../schema/supergraph.graphql', import.meta.url);
/** The subgraphs' URLs inside docker-compose, as composed into the supergraph. */
const COMPOSED_URL = /url: "http:\/\/([a-z-]+):\d+\/graphql"/g;

/** The committed supergraph with each subgraph's URL replaced by the one in `urls` (by subgraph name). */
export async function supergraphFor(urls: Record<string, string>): Promise<string> {
  const sdl = await readFile(SUPERGRAPH, 'utf8');
  return sdl.replace(COMPOSED_URL, (match, name: string) => (urls[name] ? `url: "${urls[name]}"` : match));
}

/**
 * The encoded principal of `Authorization: Bearer <token>` (encodePrincipal), anonymous without one. The token's
 * signature and expiry are checked; revocation is not (no bench session is ever signed out).
 */
export async function principalClaim(authorization: string | null | undefined, jwtSecret: string): Promise<string> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  let principal: Principal = null;
  if (token) {
    const result = await verifyAccessToken(jwtSecret, token);
    if (!result.ok) throw new Error(`bench gateway: access token ${result.reason}`);
    principal = result.identity;
  }
  return encodePrincipal(principal);
}

export interface OtherGatewayProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Forks `<kind>-gateway.process.ts` (under tsx: these are bench programs, not ours to ship) with `env` and
 * resolves once it sent its URL.
 */
export function startOtherGateway(
  kind: OtherGateway,
  env: Record<string, string>,
  execArgv: string[] = [],
): Promise<OtherGatewayProcess> {
  const child: ChildProcess = fork(new URL(`./${kind}-gateway.process.ts`, import.meta.url), {
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { ...process.env, ...env },
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.send('stop');
    });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ url: (message as { url: string }).url, pid: child.pid!, stop }));
    child.once('exit', (code) => reject(new Error(`${kind} gateway exited early (code ${code})`)));
  });
}

/** What a gateway process reads from its environment (set by startOtherGateway's caller). */
export function otherGatewayEnv() {
  const { BENCH_SUBGRAPH_URLS, JWT_SECRET, GATEWAY_SIGNING_SECRET } = process.env;
  if (!BENCH_SUBGRAPH_URLS || !JWT_SECRET || !GATEWAY_SIGNING_SECRET || !process.send) {
    throw new Error('a bench gateway runs as a child of a bench, with BENCH_SUBGRAPH_URLS and the secrets set');
  }
  return {
    urls: JSON.parse(BENCH_SUBGRAPH_URLS) as Record<string, string>,
    jwtSecret: JWT_SECRET,
    signingSecret: GATEWAY_SIGNING_SECRET,
    send: process.send.bind(process),
  };
}
