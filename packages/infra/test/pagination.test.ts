import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, pageSize, setCursorSecret, toConnection } from '../src/index.ts';

const key = z.object({ t: z.number(), id: z.string() });

describe('cursors', () => {
  it('should decode what it encoded for the same list', () => {
    expect(decodeCursor('followers:1', encodeCursor('followers:1', { t: 5, id: 'x' }), key)).toEqual({ t: 5, id: 'x' });
  });

  it.each([
    ['a cursor of another list', encodeCursor('followers:2', { t: 5, id: 'x' })],
    ['a cursor with the wrong shape', encodeCursor('followers:1', { t: 'late' })],
    ['garbage', '%%%not-base64'],
  ])('should reject %s with BAD_USER_INPUT', (_, cursor) => {
    expect(() => decodeCursor('followers:1', cursor, key)).toThrowError(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'after' }) }),
    );
  });
});

describe('page size', () => {
  it('should default to 20 and accept up to 100', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(pageSize(100)).toBe(100);
  });

  it.each([101, -1, 2.5])('should reject first = %s', (first) => {
    expect(() => pageSize(first)).toThrowError(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }),
    );
  });

  it('should report a next page only when more rows than the page were fetched', () => {
    const rows = [1, 2, 3];
    expect(toConnection(rows, 2, String, (r) => r).pageInfo).toEqual({ hasNextPage: true, endCursor: '2' });
    expect(toConnection(rows, 3, String, (r) => r).pageInfo).toEqual({ hasNextPage: false, endCursor: '3' });
  });
});

describe('cursor signatures', () => {
  it('should reject a well-formed cursor that this deployment did not sign', () => {
    const handMade = `${Buffer.from(JSON.stringify({ l: 'followers:1', k: { t: 5, id: 'x' } })).toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA`;
    expect(() => decodeCursor('followers:1', handMade, key)).toThrowError(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }),
    );
  });

  it('should accept cursors across instances that share the secret', async () => {
    setCursorSecret('shared-deployment-secret-shared-deployment');
    const cursor = encodeCursor('followers:1', { t: 1, id: 'a' });
    setCursorSecret('shared-deployment-secret-shared-deployment');
    expect(decodeCursor('followers:1', cursor, key)).toEqual({ t: 1, id: 'a' });
    setCursorSecret('another-deployment-secret-another-deployment');
    expect(() => decodeCursor('followers:1', cursor, key)).toThrow();
  });
});
