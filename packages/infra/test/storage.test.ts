import { describe, expect, it } from 'vitest';
import { createObjectStorage } from '../src/storage.ts';
import { isTransientError } from '../src/failures.ts';
import { freePort } from '../src/testing/index.ts';

describe('object storage', () => {
  it('should stop calling a store that is down once its breaker opens, and fail at once', async () => {
    // Nothing listens there: the store is down.
    const storage = createObjectStorage({
      S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      S3_REGION: 'us-east-1',
      S3_BUCKET: 'down',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      BREAKER_THRESHOLD: 2,
      BREAKER_HALF_OPEN_AFTER_MS: 60_000,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const error = await storage.ping().catch((e: unknown) => e);
        expect(isTransientError(error)).toBe(true);
        expect((error as Error).message).toBe('s3 is unreachable');
      }
      expect(storage.policy.state).toBe('open');
      const error = await storage.ping().catch((e: unknown) => e);
      expect((error as Error).message).toBe('s3 is not answering (circuit open)');
      expect(isTransientError(error)).toBe(true);
    } finally {
      storage.client.destroy();
    }
  });
});
