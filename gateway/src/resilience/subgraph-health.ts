import { request } from 'undici';
import type { CallPolicy } from '@insta/infra';

const PROBE_TIMEOUT_MS = 1_000;

/** `http://host:port/graphql` → `http://host:port/healthz` (every subgraph serves liveness there, unsigned). */
const healthUrl = (graphqlUrl: string) => new URL('/healthz', graphqlUrl).href;

async function probe(url: string): Promise<string> {
  try {
    const res = await request(healthUrl(url), { method: 'GET', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body.dump();
    return res.statusCode === 200 ? 'ok' : `HTTP ${res.statusCode}`;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}

/**
 * The gateway's readiness as to subgraphs: it can serve while at least one subgraph answers (the others' fields
 * come back null with SERVICE_UNAVAILABLE), so it is unready only when none does, that is when every subgraph's
 * breaker is open or its /healthz does not answer. The error names each subgraph's state. Only the subgraphs of
 * the supergraph are probed (the in-process realtime subgraph is always there).
 */
export function subgraphHealthCheck(subgraphs: ReadonlyMap<string, { url: string; policy: CallPolicy }>) {
  return async (): Promise<void> => {
    const states = await Promise.all(
      [...subgraphs].map(async ([name, { url, policy }]) => {
        const state = policy.state === 'open' ? 'circuit open' : await probe(url);
        return [name, state] as const;
      }),
    );
    if (states.some(([, state]) => state === 'ok')) return;
    throw new Error(`no subgraph reachable (${states.map(([name, state]) => `${name}: ${state}`).join('; ')})`);
  };
}
