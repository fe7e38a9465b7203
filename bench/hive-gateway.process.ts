/**
 * Hive Gateway (@graphql-hive/gateway, pinned) with its defaults, in a process of its own. Two additions, both
 * needed for correct answers: a plugin signs each subgraph request with the identity header our subgraphs demand
 * (made from the client's access token), and the client's Authorization header is a transport header, so that
 * Hive's in-flight deduplication (on by default; HIVE_DEDUPE=off turns it off) only merges requests of the same
 * viewer: its key is the URL, body and transport headers, and without it two viewers' identical feed fetches
 * would share one answer. Sends `{ url }` over IPC once listening; stops on "stop" or disconnect.
 */
import { createServer } from 'node:http';
import { createGatewayRuntime, type GatewayPlugin } from '@graphql-hive/gateway';
import { IDENTITY_HEADER, requestPath, signEncodedPrincipal } from '@insta/infra';
import { otherGatewayEnv, principalClaim, supergraphFor } from './other-gateways.ts';

const { urls, jwtSecret, signingSecret, send } = otherGatewayEnv();
const dedupe = process.env.HIVE_DEDUPE !== 'off';
const subgraphOf = new Map(Object.entries(urls).map(([name, url]) => [url, name]));

const signIdentity: GatewayPlugin = {
  async onFetch({ url, options, setOptions }) {
    const audience = subgraphOf.get(url);
    if (!audience) return;
    const headers = { ...(options.headers as Record<string, string> | undefined) };
    const claim = await principalClaim(headers.authorization, jwtSecret);
    headers[IDENTITY_HEADER] = signEncodedPrincipal(signingSecret, claim, {
      audience,
      path: requestPath(url),
      body: typeof options.body === 'string' ? options.body : '',
    });
    setOptions({ ...options, headers });
  },
};

const gateway = createGatewayRuntime({
  supergraph: await supergraphFor(urls),
  logging: false,
  transportEntries: {
    '*': {
      headers: [['authorization', '{context.headers.authorization}']],
      ...(dedupe ? {} : { options: { deduplicateInflightRequests: false } }),
    },
  },
  plugins: () => [signIdentity],
});
const httpServer = createServer(gateway);
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const address = httpServer.address() as { port: number };

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  httpServer.closeAllConnections();
  await new Promise((resolve) => httpServer.close(resolve));
  await gateway.dispose();
  process.exit(0);
}
process.on('message', (message) => message === 'stop' && void stop());
process.on('disconnect', () => void stop());
send({ url: `http://127.0.0.1:${address.port}/graphql` });
