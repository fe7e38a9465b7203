import { Agent, request } from 'undici';
import { IDENTITY_HEADER, requestPath, signIdentity } from './identity.ts';

export class InternalRequestError extends Error {
  constructor(
    message: string,
    readonly errors: unknown,
  ) {
    super(message);
    this.name = 'InternalRequestError';
  }
}

/**
 * Service-to-service GraphQL: one subgraph asking another for fields marked `@inaccessible` (kept out of the
 * public supergraph). Requests are signed like the gateway's, as the calling service (`from`) for the target
 * subgraph (`to`), over keep-alive connections. A GraphQL error in the answer rejects with InternalRequestError.
 */
export function createInternalClient(url: string, signingSecret: string, services: { from: string; to: string }) {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  const path = requestPath(url);
  const principal = { service: services.from };
  return {
    async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      const body = JSON.stringify({ query, variables });
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        headers: {
          'content-type': 'application/json',
          [IDENTITY_HEADER]: signIdentity(signingSecret, principal, { audience: services.to, path, body }),
        },
        body,
      });
      const answer = (await res.body.json()) as { data?: T; errors?: unknown[] };
      if (res.statusCode !== 200 || answer.errors?.length || !answer.data) {
        throw new InternalRequestError(`internal request to ${url} failed (${res.statusCode})`, answer.errors);
      }
      return answer.data;
    },
    close: () => dispatcher.close(),
  };
}
export type InternalClient = ReturnType<typeof createInternalClient>;
