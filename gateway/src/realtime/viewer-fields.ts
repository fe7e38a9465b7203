import type { DocumentNode, FieldNode, GraphQLSchema } from 'graphql';
import { graphql } from '../graphql-runtime.ts';

/**
 * Fields whose value depends on who asks (resolved with the caller's identity), as `Type.field` of the API
 * schema (docs/adr/0015-shared-subscription-execution.md). Every other field of an entity the subscriber may see
 * has the same value for every subscriber who may see it, so a subscription event runs it once for all of them.
 * A test checks against the committed supergraph that each entry names a field, and that every field whose
 * description speaks of the viewer or the signed-in user is listed.
 */
export const VIEWER_DEPENDENT_FIELDS: readonly string[] = [
  'Post.viewerHasLiked',
  'Post.comments',
  'Comment.replies',
  'User.posts',
  'User.followers',
  'User.following',
  'User.viewerFollowStatus',
  'User.followsViewer',
  'Media.failureReason',
  'PostEdge.node',
  'Notification.type',
  'Notification.actors',
  'Notification.post',
  'Notification.comment',
  'Notification.read',
];

/**
 * Viewer-dependent fields whose value for every viewer of an event comes with the event's batched authorization
 * (posts' `postAudience`: visibility and likes of many viewers in one call), so they need no execution per viewer.
 */
export const BATCHED_VIEWER_FIELDS: ReadonlySet<string> = new Set(['Post.viewerHasLiked']);

/** The alias prefix that marks where a batched field was taken out of the shared selection (`<prefix><alias>: id`). */
export const VIEWER_FIELD_MARKER = '_viewer_viewerHasLiked__';

export type ViewerSplit =
  /** No viewer-dependent field: one execution serves every subscriber. */
  | { kind: 'shared' }
  /** Only batched ones: the shared document (each taken out in favour of a marker) runs once, markers filled per viewer. */
  | { kind: 'batched'; shared: DocumentNode }
  /** Another viewer-dependent field: one execution per distinct viewer of the event. */
  | { kind: 'per-viewer' };

/** Throws when an entry does not name a field of this API schema (the supergraph test). */
export function checkViewerFields(schema: GraphQLSchema): void {
  for (const entry of VIEWER_DEPENDENT_FIELDS) {
    const [typeName, fieldName] = entry.split('.');
    const type = typeName ? schema.getType(typeName) : undefined;
    if (!type || !graphql.isObjectType(type) || !fieldName || !type.getFields()[fieldName]) {
      throw new Error(`VIEWER_DEPENDENT_FIELDS: ${entry} is not a field of the API schema`);
    }
  }
}

/** How a (validated) subscription document splits into the part shared by every viewer and the viewer's part. */
export function splitByViewer(schema: GraphQLSchema, document: DocumentNode): ViewerSplit {
  const dependent = new Set(VIEWER_DEPENDENT_FIELDS);
  let batched = false;
  let perViewer = false;
  const typeInfo = new graphql.TypeInfo(schema);
  const shared = graphql.visit(
    document,
    graphql.visitWithTypeInfo(typeInfo, {
      Field: {
        enter(node: FieldNode) {
          const parent = typeInfo.getParentType();
          const key = parent ? `${parent.name}.${node.name.value}` : '';
          if (node.alias?.value.startsWith(VIEWER_FIELD_MARKER)) perViewer = true;
          if (!dependent.has(key)) return undefined;
          if (!BATCHED_VIEWER_FIELDS.has(key) || node.directives?.length) {
            perViewer = true;
            return undefined;
          }
          batched = true;
          const alias = node.alias?.value ?? node.name.value;
          // In place, so the keys of the shared result keep the order of the query's.
          return {
            kind: graphql.Kind.FIELD,
            alias: { kind: graphql.Kind.NAME, value: `${VIEWER_FIELD_MARKER}${alias}` },
            name: { kind: graphql.Kind.NAME, value: 'id' },
          } satisfies FieldNode;
        },
      },
    }),
  );
  if (perViewer) return { kind: 'per-viewer' };
  return batched ? { kind: 'batched', shared } : { kind: 'shared' };
}

/**
 * The shared result as one viewer sees it: each marker (`<prefix><alias>: <post id>`) becomes `<alias>: value`
 * where `value(postId)` answers the batched field for this viewer, or undefined when it cannot (the caller then
 * executes for this viewer). Objects without markers are shared, not copied.
 */
export function fillViewerFields(
  data: unknown,
  value: (postId: string) => boolean | undefined,
): { data: unknown; complete: boolean } {
  let complete = true;
  const fill = (node: unknown): unknown => {
    if (Array.isArray(node)) {
      let changed = false;
      const out = node.map((item) => {
        const filled = fill(item);
        if (filled !== item) changed = true;
        return filled;
      });
      return changed ? out : node;
    }
    if (node === null || typeof node !== 'object') return node;
    let out: Record<string, unknown> | null = null;
    const entries = Object.entries(node as Record<string, unknown>);
    entries.forEach(([key, child], index) => {
      const marker = key.startsWith(VIEWER_FIELD_MARKER);
      let filled: unknown;
      if (marker) {
        const answer = typeof child === 'string' ? value(child) : undefined;
        if (answer === undefined) complete = false;
        filled = answer ?? false;
      } else filled = fill(child);
      if (!out && (marker || filled !== child)) out = Object.fromEntries(entries.slice(0, index));
      if (out) out[marker ? key.slice(VIEWER_FIELD_MARKER.length) : key] = filled;
    });
    return out ?? node;
  };
  return { data: fill(data), complete };
}
