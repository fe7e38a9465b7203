import { z } from 'zod';
import { USERS_STREAM, UsersSubjects } from '@insta/events';
import type { Consumer, EventBus } from '@insta/infra';
import type { SocialService } from './social.service.ts';

/** What the replica needs of `users.user.created` and `users.user.updated`. */
const accountEvent = z.object({ userId: z.uuid(), isPrivate: z.boolean(), occurredAt: z.iso.datetime() });

/**
 * Keeps `social.accounts` (existence and privacy of every user) in step with the USERS stream. Durable, so a
 * restart resumes where it stopped; the handler is idempotent, so a redelivery changes nothing. The users
 * subgraph owns the stream; ensuring it here too lets the two start in any order.
 */
export async function startAccountsConsumer(bus: EventBus, social: SocialService): Promise<Consumer> {
  await bus.ensureStream(USERS_STREAM);
  return bus.consume<unknown>({
    stream: USERS_STREAM.name,
    durable: 'social-graph-accounts',
    filterSubject: 'users.user.*',
    maxDeliver: 5,
    handler: async ({ subject, data }) => {
      if (subject !== UsersSubjects.userCreated && subject !== UsersSubjects.userUpdated) return;
      const event = accountEvent.parse(data);
      await social.syncAccount(event.userId, event.isPrivate, new Date(event.occurredAt));
    },
  });
}
