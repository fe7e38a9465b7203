// The gateway's explorer: GraphiQL, bundled by build-explorer.mjs and served by the gateway itself (no CDN).
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import 'graphiql/style.css';

// Monaco runs its language services in web workers; build-explorer.mjs bundles each one next to this file.
const workerUrls = JSON.parse(document.getElementById('explorer-workers').textContent);
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const url = workerUrls[label] ?? workerUrls.editor;
    return new Worker(new URL(url, location.href), { type: 'module' });
  },
};

const httpUrl = new URL('/graphql', location.href).toString();
const wsUrl = httpUrl.replace(/^http/, 'ws');

// Subscriptions run over graphql-ws on the same URL (ws: or wss: like the page). The socket authenticates once,
// with connectionParams, so the Authorization header of the Headers tab picks the connection: one per value.
const fetchers = new Map();
function fetcherFor(authorization) {
  let fetcher = fetchers.get(authorization);
  if (!fetcher) {
    const connectionParams = authorization ? { authorization } : {};
    const wsClient = createClient({ url: wsUrl, lazy: true, retryAttempts: 0, connectionParams });
    fetcher = createGraphiQLFetcher({ url: httpUrl, wsClient });
    fetchers.set(authorization, fetcher);
  }
  return fetcher;
}
const fetcher = (params, options) => {
  const headers = options?.headers ?? {};
  const name = Object.keys(headers).find((key) => key.toLowerCase() === 'authorization');
  return fetcherFor(name ? String(headers[name]) : '')(params, options);
};

const defaultQuery = `# Welcome to the Insta GraphQL API.
# Sign in with the signIn mutation, then add the header
#   { "Authorization": "Bearer <accessToken>" }
# in the Headers tab below.

query Me {
  me {
    id
    username
    displayName
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, { fetcher, defaultQuery, shouldPersistHeaders: true }),
);
