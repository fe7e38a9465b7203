import { describe, expect, it } from 'vitest';
import { InternalRequestError, isTransientError, type InternalClient } from '@insta/infra';
import { socialGraphFollowerSource } from '../src/social-graph.client.ts';

const failingWith = (error: unknown): Pick<InternalClient, 'query'> => ({
  query: () => Promise.reject(error),
});
const answered = (code: string) =>
  new InternalRequestError('internal request failed (200)', [{ message: 'x', extensions: { code } }], 200);

describe('the follower source of the fan-out', () => {
  it('should make any failure of social-graph transient, so a post waits for it instead of being dead-lettered', async () => {
    for (const error of [answered('INTERNAL_SERVER_ERROR'), new SyntaxError('Unexpected token < in JSON')]) {
      const source = socialGraphFollowerSource(failingWith(error));
      const failure = await source.followerCount('u').catch((e: unknown) => e);
      expect(isTransientError(failure)).toBe(true);
      expect((failure as Error).cause).toBe(error);
    }
  });

  it('should keep an answer about the request itself poison', async () => {
    const source = socialGraphFollowerSource(failingWith(answered('BAD_USER_INPUT')));
    const failure = await source.followerIds('not-a-user', 10, null).catch((e: unknown) => e);
    expect(isTransientError(failure)).toBe(false);
  });
});
