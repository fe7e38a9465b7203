import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { Agent, request } from 'undici';
import { encodePrincipal, IDENTITY_HEADER, requestPath, signEncodedPrincipal } from '@insta/infra';
import type { GatewayContext } from './context.ts';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherRequestInit = NonNullable<Parameters<Fetcher>[1]>;
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

/** Client headers passed on to every subgraph (adaptive media delivery and request tracing). */
export const FORWARDED_HEADERS = ['save-data', 'dpr', 'viewport-width', 'x-request-id'] as const;

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

/** Carries the caller's encoded principal from willSendRequest to the fetcher, which signs it; never sent. */
const PRINCIPAL_CLAIM = 'x-insta-principal-claim';

/**
 * Signs each subgraph request where its exact bytes are known: the identity header's MAC covers the subgraph
 * (`audience`), the path and the body (docs/adr/0003-gateway-subgraph-trust.md).
 */
export function signingFetcher(fetcher: Fetcher, signingSecret: string, audience: string): Fetcher {
  return (url, init = {}) => {
    const headers = { ...(init.headers as Record<string, string> | undefined) };
    const claim = headers[PRINCIPAL_CLAIM] ?? '-';
    delete headers[PRINCIPAL_CLAIM];
    const body = typeof init.body === 'string' ? init.body : '';
    headers[IDENTITY_HEADER] = signEncodedPrincipal(signingSecret, claim, { audience, path: requestPath(url), body });
    return fetcher(url, { ...init, headers });
  };
}

export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  /** `name` is the subgraph's name in the supergraph, which it checks signatures against. */
  constructor(name: string, url: string, fetcher: Fetcher, signingSecret: string) {
    super({ url, fetcher: signingFetcher(fetcher, signingSecret, name) });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const headers = request.http?.headers;
    if (!headers) return;
    // Users and anonymous clients only: the gateway never signs as a service.
    context.principalClaim ??= encodePrincipal(context.identity ?? null);
    headers.set(PRINCIPAL_CLAIM, context.principalClaim);
    const incoming = context.clientHeaders;
    if (!incoming) return;
    for (const name of FORWARDED_HEADERS) {
      const value = incoming[name];
      if (typeof value === 'string') headers.set(name, value);
    }
  }
}
