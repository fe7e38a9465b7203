import type { UserUpdatedEvent } from '@insta/events';
import type { BusMessage, Logger } from '@insta/infra';
import type { MediaRepository } from './media.repository.ts';
import { PRIVATE_PREFIX, type ObjectsRepository } from './objects.repository.ts';

/**
 * When an account turns private, its READY media still stored under the public prefix moves to the private one:
 * copy every object (HLS segments included), point the variants at the copies, then delete the public objects.
 * Each step is idempotent, so a redelivered event finishes what an interrupted one started. An account turning
 * public keeps its media private-stored (served by signed URLs; only less cacheable). See ADR 13.
 */
export class PrivacyMover {
  constructor(
    private readonly media: MediaRepository,
    private readonly objects: ObjectsRepository,
    private readonly logger: Logger,
  ) {}

  readonly handle = async (message: BusMessage<UserUpdatedEvent>): Promise<void> => {
    const { userId, isPrivate, changed } = message.data;
    if (!isPrivate || !changed.includes('isPrivate')) return;
    for (const mediaId of await this.media.mediaWithVariantsUnder(userId, 'media/')) {
      const from = `media/${mediaId}/`;
      const to = `${PRIVATE_PREFIX}${mediaId}/`;
      await this.objects.copyPrefix(from, to);
      await this.media.moveVariantKeys(mediaId, from, to);
      await this.objects.deletePrefix(from);
      this.logger.info({ mediaId, userId }, 'media moved to private storage');
    }
  };
}
