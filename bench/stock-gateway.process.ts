/**
 * Stock @apollo/gateway with its defaults on startStandaloneServer, in a process of its own; the only addition is
 * the signed identity header our subgraphs demand, made from the client's access token. Sends `{ url }` over IPC
 * once listening; stops on "stop" or disconnect.
 */
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { IDENTITY_HEADER, requestPath, signEncodedPrincipal } from '@insta/infra';
import { otherGatewayEnv, principalClaim, supergraphFor } from './other-gateways.ts';

interface Context {
  authorization: string | undefined;
}

const { urls, jwtSecret, signingSecret, send } = otherGatewayEnv();
/** Carries the principal from willSendRequest to the fetcher, which signs the exact body; never sent. */
const CLAIM = 'x-bench-principal';

class SignedDataSource extends RemoteGraphQLDataSource<Context> {
  constructor(name: string, url: string) {
    super({
      url,
      fetcher: (target, init = {}) => {
        const headers = { ...(init.headers as Record<string, string>) };
        const claim = headers[CLAIM] ?? '-';
        delete headers[CLAIM];
        headers[IDENTITY_HEADER] = signEncodedPrincipal(signingSecret, claim, {
          audience: name,
          path: requestPath(target),
          body: typeof init.body === 'string' ? init.body : '',
        });
        return fetch(target, { ...init, headers } as RequestInit) as never;
      },
    });
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<Context>) {
    request.http?.headers.set(CLAIM, await principalClaim(context.authorization, jwtSecret));
  }
}

const server = new ApolloServer<Context>({
  gateway: new ApolloGateway({
    supergraphSdl: await supergraphFor(urls),
    buildService: ({ name, url }) => new SignedDataSource(name, url!),
  }),
});
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}
process.on('message', (message) => message === 'stop' && void stop());
process.on('disconnect', () => void stop());
send({ url: new URL('/graphql', url).toString() });
