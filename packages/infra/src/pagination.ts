import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { badUserInput } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** `first` per the API: default 20, at most 100; anything else is BAD_USER_INPUT. */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`first must be between 0 and ${MAX_PAGE_SIZE}`, 'first');
  }
  return first;
}

let cursorKey = randomBytes(32);

/**
 * Cursors are MAC'd so that a hand-made one is refused. Every instance of a subgraph must use the same key:
 * startSubgraphServer derives it from GATEWAY_SIGNING_SECRET.
 */
export function setCursorSecret(secret: string): void {
  cursorKey = createHmac('sha256', secret).update('insta-cursor-key').digest();
}

const cursorMac = (payload: string) => createHmac('sha256', cursorKey).update(payload).digest('base64url').slice(0, 22);

/**
 * Opaque keyset cursors: base64url JSON tagged with the list they belong to, plus a MAC, so a cursor from another
 * list, a forged one, or one that does not decode to the expected shape, is BAD_USER_INPUT.
 */
export function encodeCursor(list: string, key: unknown): string {
  const payload = Buffer.from(JSON.stringify({ l: list, k: key })).toString('base64url');
  return `${payload}.${cursorMac(payload)}`;
}

export function decodeCursor<S extends z.ZodType>(list: string, cursor: string, schema: S): z.infer<S> {
  const [payload = '', mac = ''] = cursor.split('.');
  const expected = Buffer.from(cursorMac(payload));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw badUserInput('Invalid cursor', 'after');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw badUserInput('Invalid cursor', 'after');
  }
  const envelope = z.object({ l: z.literal(list), k: z.unknown() }).safeParse(decoded);
  const key = envelope.success ? schema.safeParse(envelope.data.k) : undefined;
  if (!key?.success) throw badUserInput('Invalid cursor', 'after');
  return key.data;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Builds a connection from `size + 1` fetched rows (the extra row only tells that a next page exists). */
export function toConnection<R, T>(
  rows: R[],
  size: number,
  cursorOf: (row: R) => string,
  nodeOf: (row: R) => T,
): Connection<T> {
  const page = rows.slice(0, size);
  const edges = page.map((row) => ({ cursor: cursorOf(row), node: nodeOf(row) }));
  return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
}

/** Built once: `z.uuid()` per call made a schema per id (~2.5 µs, most of a 5000-viewer `postAudience`). */
const UUID = z.uuid();

/** Ids are UUIDs; anything else cannot name a row, so lookups answer null without asking Postgres. */
export const isUuid = (value: string) => UUID.safeParse(value).success;
