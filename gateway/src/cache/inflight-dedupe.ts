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
    const key = requestKey(url, init.method ?? 'GET', (init.headers ?? {}) as Record<string, string>, init.body);
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

/**
 * What makes two reads identical: URL, method, the headers but the request id (names lower-cased, in name order)
 * and the body, one a line. None of the first three can hold a line break (Node refuses one in a header value or
 * a URL), and the body comes last, so distinct requests cannot make the same key.
 */
export function requestKey(url: string, method: string, headers: Readonly<Record<string, string>>, body: string) {
  const lines: string[] = [];
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (lower !== 'x-request-id') lines.push(`${lower}:${headers[name]}`);
  }
  lines.sort();
  return `${url}\n${method}\n${lines.length}\n${lines.join('\n')}\n${body}`;
}
