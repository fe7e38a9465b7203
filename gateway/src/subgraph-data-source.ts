import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { Agent, request } from 'undici';
import { CallPolicy, IDENTITY_HEADER, identitySigner, isTransientError } from '@insta/infra';
import type { GatewayContext } from './context.ts';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherRequestInit = NonNullable<Parameters<Fetcher>[1]>;
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

/**
 * Client headers passed on to every subgraph (adaptive media delivery and request tracing), and the client
 * address the gateway resolved (`x-client-ip`, always overwritten by the gateway: the users subgraph's sign-in limits).
 */
export const FORWARDED_HEADERS = ['save-data', 'dpr', 'viewport-width', 'x-request-id', 'x-client-ip'] as const;

/**
 * A `Fetcher` on an undici keep-alive Agent. The gateway's default (make-fetch-happen) costs noticeably per
 * request; this one reuses pooled connections and only builds what RemoteGraphQLDataSource reads.
 */
export function createUndiciFetcher(agent: Agent): Fetcher {
  return async (url: string, init: FetcherRequestInit = {}): Promise<FetcherResponse> => {
    const response = await request(url, {
      dispatcher: agent,
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers,
      body: init.body,
      signal: init.signal,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.set(name, value);
    }
    const text = await response.body.text();
    return undiciResponse(url, response.statusCode, headers, text);
  };
}

function undiciResponse(url: string, status: number, headers: Headers, text: string): FetcherResponse {
  let used = false;
  const read = () => {
    used = true;
    return text;
  };
  const self: FetcherResponse = {
    get bodyUsed() {
      return used;
    },
    url,
    redirected: false,
    status,
    ok: status >= 200 && status < 300,
    statusText: String(status),
    headers,
    text: async () => read(),
    json: async () => JSON.parse(read()) as unknown,
    arrayBuffer: async () => new TextEncoder().encode(read()).buffer as ArrayBuffer,
    clone: () => undiciResponse(url, status, headers, text),
  };
  return self;
}

/** A subgraph answered 5xx (or a proxy in front of it did): the subgraph, not the request, failed. */
export class SubgraphHttpError extends Error {
  constructor(
    readonly subgraph: string,
    readonly statusCode: number,
  ) {
    super(`${subgraph} answered HTTP ${statusCode}`);
    this.name = 'SubgraphHttpError';
  }
}

/**
 * Fetches only read when the subgraph operation is a query (`_entities` fetches are queries too). The check is on
 * the JSON body the gateway built: an unescaped `"query":"mutation` can only be the operation itself, or a
 * variable named `query` whose value starts so, which only costs that read its retry.
 */
export const isWriteOperation = (body: unknown) =>
  typeof body === 'string' && /"query":"\s*(mutation|subscription)\b/.test(body);

/**
 * The fetcher of one subgraph under its CallPolicy: per-attempt timeout, retries of reads, a breaker. An open
 * breaker, a timeout or an unreachable subgraph rejects at once with SERVICE_UNAVAILABLE (`retryAfterSeconds`),
 * which the gateway's executor puts in `errors` with the fields of that fetch null: partial data when other
 * subgraphs answered, HTTP 503 when nothing did (see unavailable-status.ts).
 */
export function guardedFetcher(fetcher: Fetcher, policy: CallPolicy): Fetcher {
  return async (url, init = {}) => {
    try {
      return await policy.execute(
        async (signal) => {
          const response = await fetcher(url, { ...init, signal });
          if (response.status >= 500) throw new SubgraphHttpError(policy.name, response.status);
          return response;
        },
        { idempotent: !isWriteOperation(init.body) },
      );
    } catch (error) {
      if (isTransientError(error)) throw policy.unavailable(error);
      throw error;
    }
  };
}

export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  private readonly sign: ReturnType<typeof identitySigner>;

  constructor(
    url: string,
    fetcher: Fetcher,
    signingSecret: string,
    readonly policy: CallPolicy,
  ) {
    super({ url, fetcher: guardedFetcher(fetcher, policy) });
    this.sign = identitySigner(signingSecret);
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const headers = request.http?.headers;
    if (!headers) return;
    context.identityHeader ??= this.sign(context.identity ?? null);
    headers.set(IDENTITY_HEADER, context.identityHeader);
    const incoming = context.clientHeaders;
    if (!incoming) return;
    for (const name of FORWARDED_HEADERS) {
      const value = incoming[name];
      if (typeof value === 'string') headers.set(name, value);
    }
  }
}
