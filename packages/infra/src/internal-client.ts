import { Agent, request } from 'undici';
import { IDENTITY_HEADER, signIdentity } from './identity.ts';

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
 * public supergraph). Requests are signed like the gateway's, with no user identity, over keep-alive
 * connections. A GraphQL error in the answer rejects with InternalRequestError.
 */
export function createInternalClient(url: string, signingSecret: string) {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  return {
    async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: signIdentity(signingSecret, null) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.body.json()) as { data?: T; errors?: unknown[] };
      if (res.statusCode !== 200 || body.errors?.length || !body.data) {
        throw new InternalRequestError(`internal request to ${url} failed (${res.statusCode})`, body.errors);
      }
      return body.data;
    },
    close: () => dispatcher.close(),
  };
}
export type InternalClient = ReturnType<typeof createInternalClient>;
