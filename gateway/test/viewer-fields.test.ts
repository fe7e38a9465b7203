import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Supergraph } from '@apollo/federation-internals';
import type { GraphQLSchema } from 'graphql';
import { graphql } from '../src/graphql-runtime.ts';
import {
  VIEWER_DEPENDENT_FIELDS,
  VIEWER_FIELD_MARKER,
  checkViewerFields,
  fillViewerFields,
  splitByViewer,
} from '../src/realtime/viewer-fields.ts';

const SUPERGRAPH = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));

async function apiSchema(): Promise<GraphQLSchema> {
  return Supergraph.build(await readFile(SUPERGRAPH, 'utf8'))
    .apiSchema()
    .toGraphQLJSSchema();
}

describe('viewer-dependent fields', () => {
  it('should list every field whose description speaks of the viewer or the signed-in user', async () => {
    const schema = await apiSchema();
    checkViewerFields(schema);
    const mentioning: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (
        !graphql.isObjectType(type) ||
        type.name.startsWith('__') ||
        ['Query', 'Mutation', 'Subscription'].includes(type.name)
      ) {
        continue;
      }
      for (const field of Object.values(type.getFields())) {
        if (/viewer|signed-in|you\b|owner/i.test(`${field.name} ${field.description ?? ''}`)) {
          mentioning.push(`${type.name}.${field.name}`);
        }
      }
    }
    expect(mentioning.filter((f) => !VIEWER_DEPENDENT_FIELDS.includes(f))).toEqual([]);
  });

  it('should fail at start when an entry names no field of the schema', async () => {
    const schema = await apiSchema();
    const patched = graphql.buildSchema('type Query { a: Int }');
    expect(() => checkViewerFields(patched)).toThrow(/is not a field of the API schema/);
    expect(() => checkViewerFields(schema)).not.toThrow();
  });

  it('should share a selection without viewer fields, batch viewerHasLiked and run others per viewer', async () => {
    const schema = await apiSchema();
    const split = (query: string) => splitByViewer(schema, graphql.parse(query));
    expect(split('subscription { postLiked(postId: "p") { likeCount user { username } } }')).toEqual({
      kind: 'shared',
    });
    const batched = split(
      'subscription { postLiked(postId: "p") { post { liked: viewerHasLiked likeCount ...F } } } fragment F on Post { viewerHasLiked }',
    );
    expect(batched.kind).toBe('batched');
    const printed = batched.kind === 'batched' ? graphql.print(batched.shared) : '';
    expect(printed).toContain(`${VIEWER_FIELD_MARKER}liked: id`);
    expect(printed).toContain(`${VIEWER_FIELD_MARKER}viewerHasLiked: id`);
    expect(printed).not.toMatch(/\bviewerHasLiked\b(?!:)/);
    expect(split('subscription { postLiked(postId: "p") { user { viewerFollowStatus } } }')).toEqual({
      kind: 'per-viewer',
    });
  });

  it('should fill the markers per viewer in the order of the query and share untouched objects', () => {
    const author = { username: 'bea' };
    const data = {
      postLiked: { likeCount: 2, post: { [`${VIEWER_FIELD_MARKER}liked`]: 'p1', likeCount: 2, author } },
    };
    const filled = fillViewerFields(data, (postId) => (postId === 'p1' ? true : undefined));
    expect(filled.complete).toBe(true);
    expect(JSON.stringify(filled.data)).toBe(
      JSON.stringify({ postLiked: { likeCount: 2, post: { liked: true, likeCount: 2, author } } }),
    );
    expect((filled.data as typeof data).postLiked.post.author).toBe(author);
    expect(fillViewerFields(data, () => undefined).complete).toBe(false);
  });
});
