import type { DocumentNode, OperationDefinitionNode, SelectionSetNode } from 'graphql';
import { graphql } from '../graphql-runtime.ts';

/**
 * What an operation does, for rate limits, from its root fields: `auth` (signing in or up, refreshing: each
 * costs an argon2 hash or a session write), `upload`, `write` (every other mutation: posts, likes, comments,
 * follows…), `search` (trigram scans), `read` (every other query, and subscriptions).
 */
export type OperationClass = 'auth' | 'upload' | 'write' | 'search' | 'read';
export const OPERATION_CLASSES = ['auth', 'upload', 'write', 'search', 'read'] as const satisfies OperationClass[];

export const ROOT_FIELD_CLASSES: Record<string, OperationClass> = {
  signIn: 'auth',
  signUp: 'auth',
  refreshToken: 'auth',
  requestUpload: 'upload',
  completeUpload: 'upload',
  searchUsers: 'search',
  postsByHashtag: 'search',
};

/** The stricter class wins when one operation mixes root fields (`{ me { id } searchUsers(…) { … } }` is search). */
const PRECEDENCE: readonly OperationClass[] = OPERATION_CLASSES;

export interface ClassifiedOperation {
  class: OperationClass;
  /** Root fields of the operation (aliases count each): each takes a token. */
  rootFields: number;
}

export function classifyOperation(document: DocumentNode, operation: OperationDefinitionNode): ClassifiedOperation {
  const fallback: OperationClass = operation.operation === graphql.OperationTypeNode.MUTATION ? 'write' : 'read';
  const names: string[] = [];
  const collect = (selectionSet: SelectionSetNode, seen: ReadonlySet<string>) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === graphql.Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) names.push(selection.name.value);
      } else if (selection.kind === graphql.Kind.INLINE_FRAGMENT) collect(selection.selectionSet, seen);
      else if (!seen.has(selection.name.value)) {
        const fragment = document.definitions.find(
          (d) => d.kind === graphql.Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
        );
        if (fragment?.kind === graphql.Kind.FRAGMENT_DEFINITION) {
          collect(fragment.selectionSet, new Set(seen).add(selection.name.value));
        }
      }
    }
  };
  collect(operation.selectionSet, new Set());
  const classes = new Set(names.map((name) => ROOT_FIELD_CLASSES[name] ?? fallback));
  return { class: PRECEDENCE.find((c) => classes.has(c)) ?? fallback, rootFields: Math.max(1, names.length) };
}
