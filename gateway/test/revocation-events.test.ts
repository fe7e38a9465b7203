import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersSubjects } from '@insta/events';
import { connectNats, createLogger, NatsEventBus } from '@insta/infra';
import { startPrivateNats, uniquePrefix, type PrivateServer } from '@insta/infra/testing';
import { listenToRevocations, type RevocationEvents } from '../src/revocation/revocation-events.ts';
import { until } from './helpers.ts';

const logger = createLogger('revocation-events-test', 'silent');

describe('session revocation events', () => {
  let nats: PrivateServer;
  let bus: NatsEventBus;
  let publisher: NatsEventBus;
  let events: RevocationEvents | undefined;
  beforeAll(async () => {
    nats = await startPrivateNats();
    const prefix = uniquePrefix('revoke');
    bus = new NatsEventBus(await connectNats(nats.url, 'revocation-events-test'), prefix, logger);
    publisher = new NatsEventBus(await connectNats(nats.url, 'revocation-events-publisher'), prefix, logger);
  });
  afterAll(async () => {
    events?.stop();
    await bus?.close();
    await publisher?.close();
    await nats?.destroy();
  });

  it('should ask for a sync when its subscription is back after NATS was away, and hear events again', async () => {
    const revoked: string[] = [];
    let missed = 0;
    events = await listenToRevocations({
      bus,
      logger,
      onRevoked: (sessionId) => revoked.push(sessionId),
      onMissed: () => void missed++,
    });
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    await publisher.announce(UsersSubjects.sessionRevoked, { sessionId: 's-before', expiresAt });
    await until(() => revoked.includes('s-before'));
    expect(missed).toBe(0);

    await nats.stop();
    await nats.start();
    await until(() => missed === 1);
    await until(async () => {
      await publisher.announce(UsersSubjects.sessionRevoked, { sessionId: 's-after', expiresAt }).catch(() => {});
      return revoked.includes('s-after');
    });
    expect(missed).toBe(1);
  });
});
