import { afterAll, describe, expect, it, vi } from 'vitest';
import { testServices, TEST_SECRETS, uniquePrefix } from '@insta/infra/testing';
import { holdRequest, spawnService } from '@insta/topology/testing';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { runOnce } from './ws-client.ts';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

describe('the gateway process', () => {
  it('should close websockets with 1001, finish the request in flight and exit 0 on SIGTERM', async () => {
    const run = await spawnService('gateway', {
      ...TEST_SECRETS,
      PORT: '0',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      REDIS_URL: testServices.redisUrl,
      NATS_URL: testServices.natsUrl,
      DEPLOYMENT_PREFIX: uniquePrefix('gwproc'),
    });
    closers.push(async () => {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    });
    const url = await vi.waitFor(
      () => {
        const match = /"url":"(http:\/\/[^"]+\/graphql)"/.exec(run.output());
        if (!match) throw new Error(`not listening yet:\n${run.output()}`);
        return match[1]!;
      },
      { timeout: 30_000, interval: 100 },
    );

    const closes: { code: number; reason: string }[] = [];
    // Not lazy: the socket stays open with no operation running, as an idle subscriber's does.
    const client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      // The close is what this test waits for, not an error to print.
      onNonLazyError: () => undefined,
      on: { closed: (event) => void closes.push(event as { code: number; reason: string }) },
    });
    closers.push(async () => void (await client.dispose()));
    // The socket is open and acknowledged: an operation over it has run.
    expect((await runOnce(client, '{ __typename }')).results).toEqual([{ data: { __typename: 'Query' } }]);
    const held = await holdRequest(url, JSON.stringify({ query: '{ __typename }' }));

    run.child.kill('SIGTERM');
    await vi.waitFor(() => expect(closes.map(({ code }) => code)).toEqual([1001]), {
      timeout: 10_000,
      interval: 50,
    });
    held.release();
    const response = await held.response;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { __typename: 'Query' } });
    const [code] = await run.exited;
    expect(code).toBe(0);
    expect(run.output()).toContain('"msg":"stopped"');
  });
});
