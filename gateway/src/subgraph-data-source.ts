import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { Agent, request } from 'undici';
import {
  CallPolicy,
  CLIENT_IP_HEADER,
  encodePrincipal,
  IDENTITY_HEADER,
  isTransientError,
  requestPath,
  signEncodedPrincipal,
} from '@insta/infra';
import { EntityCache } from './cache/entity-cache.ts';
import { dedupingFetcher } from './cache/inflight-dedupe.ts';
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

/** Carries the caller's encoded principal from willSendRequest to the fetcher, which signs it; never sent. */
const PRINCIPAL_CLAIM = 'x-insta-principal-claim';

/**
 * Signs each subgraph request where its exact bytes are known: the identity header's MAC covers the subgraph
 * (`audience`), the path, the body and the forwarded `x-client-ip` (docs/adr/0003-gateway-subgraph-trust.md).
 */
export function signingFetcher(fetcher: Fetcher, signingSecret: string, audience: string): Fetcher {
  return (url, init = {}) => {
    const headers = { ...(init.headers as Record<string, string> | undefined) };
    const claim = headers[PRINCIPAL_CLAIM] ?? '-';
    delete headers[PRINCIPAL_CLAIM];
    const body = typeof init.body === 'string' ? init.body : '';
    headers[IDENTITY_HEADER] = signEncodedPrincipal(signingSecret, claim, {
      audience,
      path: requestPath(url),
      body,
      clientIp: headers[CLIENT_IP_HEADER],
    });
    return fetcher(url, { ...init, headers });
  };
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

/** What the gateway's read path adds to a subgraph's fetches (gateway/src/cache, ADR 17). */
export interface ReadPathOptions {
  /** The entity cache for `_entities` fetches; null when ENTITY_CACHE is off. */
  entityCache: EntityCache | null;
  /** In-flight deduplication of identical reads (SUBGRAPH_DEDUPE). */
  dedupe: boolean;
}

/** GraphQLDataSourceRequestKind.INCOMING_OPERATION (the enum is not exported): a client's operation, not a health check. */
const INCOMING_OPERATION = 'incoming operation';

const isMutation = (query: string | undefined) => query !== undefined && /^\s*mutation\b/.test(query);

export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  private readonly entityCache: EntityCache | null;

  /**
   * `name` is the subgraph's name in the supergraph, which it checks signatures against. Each attempt under the
   * policy is signed afresh (a retry after a slow attempt does not carry an older timestamp); an identical read
   * in flight is shared before any of that.
   */
  constructor(
    private readonly subgraph: string,
    url: string,
    fetcher: Fetcher,
    signingSecret: string,
    readonly policy: CallPolicy,
    readPath: ReadPathOptions = { entityCache: null, dedupe: false },
  ) {
    const guarded = guardedFetcher(signingFetcher(fetcher, signingSecret, subgraph), policy);
    super({ url, fetcher: readPath.dedupe ? dedupingFetcher(guarded, subgraph, isWriteOperation) : guarded });
    this.entityCache = readPath.entityCache;
  }

  /**
   * `_entities` fetches go through the entity cache, which sends only the misses; a mutation bumps what it
   * invalidates before the gateway answers it (read-your-writes for the actor on this gateway).
   */
  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const cache = this.entityCache;
    if (!cache || (options.kind as string) !== INCOMING_OPERATION) return super.process(options);
    const { request, context } = options;
    const viewerId = context.identity?.userId ?? null;
    if (EntityCache.isEntitiesFetch(this.subgraph, request)) {
      const response = await cache.fetchEntities(
        this.subgraph,
        request,
        { viewerId, headers: context.clientHeaders },
        (partial) => super.process({ ...options, request: partial }),
      );
      return response as Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;
    }
    if (!isMutation(request.query)) return super.process(options);
    try {
      return await super.process(options);
    } finally {
      await cache.invalidateForMutation(request, viewerId);
    }
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
