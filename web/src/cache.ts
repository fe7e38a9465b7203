import type { Reference } from '@apollo/client';

/** A Relay connection as the normalized cache stores it (nodes are references). */
interface StoredConnection {
  edges: { __typename?: string; cursor: string; node: Reference | null }[];
  pageInfo?: unknown;
}

const isConnection = (value: unknown): value is StoredConnection =>
  typeof value === 'object' && value !== null && Array.isArray((value as StoredConnection).edges);

/**
 * Puts `node` first in a cached connection (moving it up when it is there already, as a grouped notification
 * that grew). A connection not in the cache yet is left alone: it is fetched whole when first shown.
 */
export function prependEdge<T>(existing: T, edgeTypename: string, node: Reference | undefined): T {
  if (!isConnection(existing) || !node) return existing;
  const rest = existing.edges.filter((edge) => edge.node?.__ref !== node.__ref);
  return { ...existing, edges: [{ __typename: edgeTypename, cursor: '', node }, ...rest] };
}

/** Puts `node` last in a cached connection, unless it is there already (a mutation's answer and its event). */
export function appendEdge<T>(existing: T, edgeTypename: string, node: Reference | undefined): T {
  if (!isConnection(existing) || !node || existing.edges.some((edge) => edge.node?.__ref === node.__ref))
    return existing;
  return { ...existing, edges: [...existing.edges, { __typename: edgeTypename, cursor: '', node }] };
}
