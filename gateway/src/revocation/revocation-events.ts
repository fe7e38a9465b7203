import { UsersSubjects, type SessionRevokedEvent } from '@insta/events';
import type { EventBus, Logger } from '@insta/infra';

export interface RevocationEventsOptions {
  bus: EventBus;
  logger: Logger;
  /** Called for every `users.session.revoked` event this gateway hears (the users subgraph writes it). */
  onRevoked(sessionId: string, expiresAt: number): void;
  /** Called when the subscription is back after being cut off from NATS: events of the gap were missed. */
  onMissed?(): void;
}

export interface RevocationEvents {
  stop(): void;
}

/**
 * Listens to `users.session.revoked` on the bus (an ephemeral subscription: every gateway instance hears every
 * event), so that a sign-out or a refresh-token reuse revocation closes the session's sockets at once on every
 * instance. An event missed while this gateway was disconnected from NATS arrives through the revocation list's
 * sync (its `onRevoked`): the one `onMissed` starts when the subscription is back, or the next periodic one.
 */
export async function listenToRevocations(options: RevocationEventsOptions): Promise<RevocationEvents> {
  const subscription = await options.bus.subscribe<SessionRevokedEvent>(UsersSubjects.sessionRevoked, {
    onGap: (state) => {
      if (state === 'restored') options.onMissed?.();
    },
  });
  void (async () => {
    try {
      for await (const event of subscription) {
        const { sessionId, expiresAt } = event.data ?? ({} as Partial<SessionRevokedEvent>);
        const expires = typeof expiresAt === 'string' ? Date.parse(expiresAt) : NaN;
        if (typeof sessionId !== 'string' || Number.isNaN(expires)) {
          options.logger.warn({ subject: event.subject }, 'malformed session revocation event ignored');
          continue;
        }
        options.onRevoked(sessionId, expires);
      }
    } catch (error) {
      options.logger.error({ err: error }, 'session revocation events stopped; relying on the revocation sync');
    }
  })();
  return { stop: () => subscription.unsubscribe() };
}
