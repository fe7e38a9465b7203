import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { inflightDeduplicated } from '@insta/infra';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

/**
 * In-flight deduplication: a read identical to one still in flight to the same subgraph (same URL, body and
 * headers, which carry the caller's identity claim and client hints, before signing) waits for that one's answer
 * instead of being sent. Each caller gets its own copy of the response. Writes are always sent.
 */
export function dedupingFetcher(fetcher: Fetcher, subgraph: string, isWrite: (body: unknown) => boolean): Fetcher {
  const inFlight = new Map<string, Promise<FetcherResponse>>();
  return async (url, init = {}) => {
    if (isWrite(init.body) || typeof init.body !== 'string') return fetcher(url, init);
    const headers = Object.entries((init.headers ?? {}) as Record<string, string>)
      .filter(([name]) => name.toLowerCase() !== 'x-request-id')
      .map(([name, value]) => `${name.toLowerCase()}:${value}`)
      .sort();
    const key = JSON.stringify([url, init.method ?? 'GET', headers, init.body]);
    const pending = inFlight.get(key);
    if (pending) {
      inflightDeduplicated.inc({ subgraph });
      return (await pending).clone();
    }
    const sent = fetcher(url, init);
    inFlight.set(key, sent);
    try {
      return (await sent).clone();
    } finally {
      inFlight.delete(key);
    }
  };
}
