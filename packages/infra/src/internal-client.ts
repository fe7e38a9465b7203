import { Agent, request } from 'undici';
import { IDENTITY_HEADER, requestPath, signIdentity } from './identity.ts';
import type { Logger } from './logger.ts';
import { CallPolicy, DEFAULT_CALL_POLICY, type CallPolicySettings } from './resilience.ts';

export class InternalRequestError extends Error {
  constructor(
    message: string,
    readonly errors: unknown,
    /** HTTP status of the answer; 5xx makes the error transient (failures.ts). */
    readonly statusCode: number,
  ) {
    super(message);
    this.name = 'InternalRequestError';
  }
}

export interface InternalClientOptions {
  /** The calling service: the principal the requests are signed as. */
  from: string;
  /** The subgraph this client calls: the audience the requests are signed for; names its breaker in logs and errors. */
  to: string;
  policy?: CallPolicySettings;
  logger?: Logger;
}

/** Operations that only read: the only ones retried after a transient failure. */
const isRead = (query: string) => !/^\s*mutation\b/.test(query);

/**
 * Service-to-service GraphQL: one subgraph asking another for fields marked `@inaccessible` (kept out of the
 * public supergraph). Requests are signed like the gateway's, as the calling service (`from`) for the target
 * subgraph (`to`) and the exact request, over keep-alive connections. Every call runs under a CallPolicy
 * (per-attempt timeout, retries of reads, a breaker): an unreachable or slow subgraph fails fast with a
 * transient error, which the caller's error formatter answers as SERVICE_UNAVAILABLE. A GraphQL error in the
 * answer rejects with InternalRequestError; an answer whose errors are all SERVICE_UNAVAILABLE (the other
 * subgraph's own dependency is down) rejects with a transient one.
 */
export function createInternalClient(url: string, signingSecret: string, options: InternalClientOptions) {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  const name = options.to;
  const policy = new CallPolicy(name, options.policy ?? DEFAULT_CALL_POLICY, options.logger);
  const path = requestPath(url);
  const principal = { service: options.from };
  const send = async <T>(query: string, variables: Record<string, unknown>, signal: AbortSignal): Promise<T> => {
    const body = JSON.stringify({ query, variables });
    const res = await request(url, {
      method: 'POST',
      dispatcher,
      signal,
      headers: {
        'content-type': 'application/json',
        // Signed per attempt: a retry after a slow first attempt must not carry a header about to go stale.
        [IDENTITY_HEADER]: signIdentity(signingSecret, principal, { audience: options.to, path, body }),
      },
      body,
    });
    const text = await res.body.text();
    let answer: { data?: T; errors?: { extensions?: { code?: unknown } }[] } = {};
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      // A proxy's HTML error page: the status decides below.
    }
    const unavailable =
      !!answer.errors?.length && answer.errors.every((e) => e.extensions?.code === 'SERVICE_UNAVAILABLE');
    if (res.statusCode !== 200 || answer.errors?.length || !answer.data) {
      const status = unavailable && res.statusCode < 500 ? 503 : res.statusCode;
      throw new InternalRequestError(`internal request to ${name} failed (${res.statusCode})`, answer.errors, status);
    }
    return answer.data;
  };
  return {
    policy,
    query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      return policy.execute((signal) => send<T>(query, variables, signal), { idempotent: isRead(query) });
    },
    close: () => dispatcher.close(),
  };
}
export type InternalClient = ReturnType<typeof createInternalClient>;
