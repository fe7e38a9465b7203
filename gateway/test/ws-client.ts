import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;

/** What one operation over graphql-ws gave: its results, then `complete` or an error (a close event or errors). */
export interface Outcome {
  results: Result[];
  error?: unknown;
}

export interface Closed {
  code: number;
  reason: string;
}

/** A real graphql-ws client on the gateway's /graphql, without retries; `closes` records close events. */
export function wsClient(httpUrl: string, connectionParams?: Record<string, unknown>) {
  const closes: Closed[] = [];
  const client: Client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...(connectionParams ? { connectionParams } : {}),
    on: {
      closed: (event) => {
        const { code, reason } = event as Closed;
        closes.push({ code, reason: String(reason) });
      },
    },
  });
  return { client, closes };
}

/** Runs an operation to its end (query, mutation, or a subscription the server ends). */
export function runOnce(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const results: Result[] = [];
    client.subscribe(
      { query, variables },
      {
        next: (result) => void results.push(result),
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}
