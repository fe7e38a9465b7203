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

// Example tabs, for the demo data (`npm start -- --demo` or `npm run seed`): sign in as a demo user, copy the
// accessToken into the Headers tab ({ "Authorization": "Bearer <accessToken>" }), then run the others.
const DEMO_HEADERS = '{\n  "Authorization": "Bearer <accessToken from signIn>"\n}';
const defaultTabs = [
  {
    query: `# Welcome to the Insta GraphQL API (reference: docs/api.md).
# Demo accounts (npm start -- --demo): ana / ben, password "demo-password".
# Run this, then put the accessToken into the Headers tab of the other tabs.
mutation SignIn($login: String!, $password: String!) {
  signIn(input: { login: $login, password: $password }) {
    accessToken
    refreshToken
    accessTokenExpiresAt
    user { id username displayName }
  }
}
`,
    variables: '{ "login": "ana", "password": "demo-password" }',
  },
  {
    query: `query HomeFeed($after: String) {
  me { username followerCount followingCount }
  feed(first: 5, after: $after) {
    edges {
      node {
        id
        text
        createdAt
        author { username displayName }
        media { kind status blurhash url variants { name width url } }
        likeCount
        commentCount
        viewerHasLiked
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`,
    headers: DEMO_HEADERS,
  },
  {
    query: `query Notifications {
  unreadNotificationCount
  notifications(first: 10) {
    edges {
      node {
        type
        actorCount
        actors(first: 3) { username }
        post { id text }
        comment { text }
        read
        updatedAt
      }
    }
  }
}
`,
    headers: DEMO_HEADERS,
  },
  {
    query: `query Profile($username: String!) {
  user(username: $username) {
    id
    displayName
    bio
    isPrivate
    followerCount
    followingCount
    viewerFollowStatus
    posts(first: 3) {
      edges {
        node {
          id
          text
          comments(first: 5) {
            edges { node { author { username } text } }
          }
        }
      }
    }
  }
  searchUsers(query: "ce", first: 5) { edges { node { username displayName followerCount } } }
}
`,
    variables: '{ "username": "celebrity" }',
    headers: DEMO_HEADERS,
  },
  {
    query: `# Put a post id from the feed tab into the variables; like it from another tab or the web client (/app).
subscription Likes($postId: ID!) {
  postLiked(postId: $postId) {
    likeCount
    user { username }
    post { id likeCount viewerHasLiked }
  }
}
`,
    variables: '{ "postId": "<a post id>" }',
    headers: DEMO_HEADERS,
  },
];

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, { fetcher, defaultTabs, shouldPersistHeaders: true }),
);
