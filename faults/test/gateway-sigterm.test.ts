import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report } from '../src/scenario.ts';
import { startStage, type Stage } from '../src/stage.ts';
import { ApiClient, pool, signUpOrIn, uniqueName } from '../src/workload.ts';

describe('SIGTERM to one of two gateways under load', () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage({ name: 'gw-sigterm', replicas: { gateway: 2 } });
  });
  afterAll(async () => {
    await stage?.stop();
  });

  it('should drain: in-flight requests answered, sockets closed with 1001, exit 0, no failed operation', async () => {
    const { topology } = stage;
    const client = new ApiClient(() => topology.gatewayUrl);
    const viewers = await pool([0, 1, 2, 3, 4, 5, 6, 7], 4, (i) => signUpOrIn(client, uniqueName(`gs${i}`)));
    const [draining] = topology.instances('gateway');
    const socket = new WebSocket(draining!.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      socket.on('message', (raw) => JSON.parse(String(raw)).type === 'connection_ack' && resolve());
      socket.on('error', reject);
    });

    let running = true;
    let completed = 0;
    const load = Promise.all(
      viewers.map(async (viewer) => {
        while (running) {
          await client.gql('{ me { id username } feed(first: 5) { edges { node { id } } } }', {}, viewer.token);
          completed++;
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const exitCode = await draining!.stop();
    await new Promise((r) => setTimeout(r, 2_000));
    running = false;
    await load;

    expect(exitCode).toBe(0);
    expect(await closed).toBe(1001);
    report('SIGTERM to one of two gateways under load', {
      completedOperations: completed,
      failedOperations: 0,
      retriedByClient: client.stats.retries,
      exitCode,
      socketClose: 1001,
    });
    await draining!.start();
  });
});
