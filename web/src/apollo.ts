// Apollo Client 4 over the gateway: HTTP for queries and mutations, graphql-ws for subscriptions, and the three
// forms of an authentication failure handled (docs/api.md#authentication):
// - HTTP 401 (a bad, expired or revoked token): refresh once and retry;
// - UNAUTHENTICATED in a 200 while a session exists: the same;
// - the socket closed with 4403: the next connection attempt refreshes first (graphql-ws retries 4403).
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, type FetchResult } from '@apollo/client';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition, relayStylePagination } from '@apollo/client/utilities';
import { CloseCode, createClient } from 'graphql-ws';
import { Kind, OperationTypeNode } from 'graphql';
import { from, Observable, switchMap } from 'rxjs';
import { freshAccessToken, getSession, onSessionChange, refreshSession, setSession } from './session.ts';

const httpUrl = new URL('/graphql', location.href).toString();
const wsUrl = httpUrl.replace(/^http/, 'ws');

/** The token the socket last authenticated with, and whether the server refused it (4403). */
let socketToken: string | null = null;
let socketRefused = false;
export const wsClient = createClient({
  url: wsUrl,
  lazy: true,
  retryAttempts: Infinity,
  shouldRetry: () => true,
  connectionParams: async () => {
    // Refresh only if the refused token is still the session's: an HTTP 401 may have refreshed it meanwhile.
    if (socketRefused && getSession()?.accessToken === socketToken) await refreshSession().catch(() => null);
    socketRefused = false;
    socketToken = await freshAccessToken();
    return socketToken ? { authorization: `Bearer ${socketToken}` } : {};
  },
  on: {
    // The socket's state on <html data-socket>, for people reading the page and for the browser tests.
    connected: () => (document.documentElement.dataset.socket = 'connected'),
    closed: (event) => {
      document.documentElement.dataset.socket = 'closed';
      if ((event as CloseEvent).code === CloseCode.Forbidden) socketRefused = true;
    },
  },
});
// Another user needs another socket (it authenticates once, on connect): graphql-ws reconnects and resubscribes.
// A refreshed token for the same user does not: the socket stays authenticated until it closes.
let socketUser = getSession()?.user.id;
onSessionChange((session) => {
  if (session?.user.id === socketUser) return;
  socketUser = session?.user.id;
  wsClient.terminate();
});

const authLink = new SetContextLink(async (prevContext) => {
  const token = await freshAccessToken();
  return { headers: { ...prevContext.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } };
});

function isAuthFailure(error: unknown): boolean {
  if (ServerError.is(error)) return error.statusCode === 401;
  if (CombinedGraphQLErrors.is(error)) return error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
  return false;
}

const refreshLink = new ErrorLink(({ error, operation, forward }) => {
  if (!isAuthFailure(error) || !getSession() || operation.getContext().retriedAfterRefresh) return;
  return from(refreshSession()).pipe(
    switchMap((session): Observable<FetchResult> => {
      if (!session) {
        setSession(null);
        return new Observable((observer) => observer.error(error));
      }
      operation.setContext({ retriedAfterRefresh: true, headers: { authorization: `Bearer ${session.accessToken}` } });
      return forward(operation);
    }),
  );
});

const isSubscription = ({ query }: ApolloLink.Operation) => {
  const definition = getMainDefinition(query);
  return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === OperationTypeNode.SUBSCRIPTION;
};

export function createApolloClient() {
  const http = ApolloLink.from([refreshLink, authLink, new HttpLink({ uri: httpUrl })]);
  return new ApolloClient({
    link: ApolloLink.split(isSubscription, new GraphQLWsLink(wsClient), http),
    // One field's error (a null with an error, as GraphQL allows) must not blank the page: keep the rest.
    defaultOptions: { watchQuery: { errorPolicy: 'all' }, query: { errorPolicy: 'all' } },
    cache: new InMemoryCache({
      typePolicies: {
        Query: {
          fields: {
            feed: relayStylePagination(),
            notifications: relayStylePagination(),
            searchUsers: relayStylePagination(['query']),
            followRequests: relayStylePagination(),
          },
        },
        User: {
          fields: {
            posts: relayStylePagination(),
            followers: relayStylePagination(),
            following: relayStylePagination(),
          },
        },
        Post: { fields: { comments: relayStylePagination() } },
        // Variants have no id; they belong to their media.
        MediaVariant: { keyFields: false },
      },
    }),
  });
}

// The default errorPolicy above, declared for Apollo Client's types (result types then allow partial data).
declare module '@apollo/client' {
  export namespace ApolloClient {
    export namespace DeclareDefaultOptions {
      interface WatchQuery {
        errorPolicy: 'all';
      }
      interface Query {
        errorPolicy: 'all';
      }
    }
  }
}
