import { describe, expect, it } from 'vitest';
import type { OperationDefinitionNode } from 'graphql';
import { graphql } from '../src/graphql-runtime.ts';
import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { DEFAULT_SUPERGRAPH_PATH } from '../src/config.ts';
import { ROOT_FIELD_CLASSES, classifyOperation } from '../src/limits/operation-class.ts';

const classify = (source: string) => {
  const document = graphql.parse(source);
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode;
  return classifyOperation(document, operation);
};

describe('classifyOperation', () => {
  it.each([
    ['mutation { signUp(input: {}) { accessToken } }', 'auth'],
    ['mutation { signIn(input: {}) { accessToken } }', 'auth'],
    ['mutation { refreshToken(refreshToken: "x") { accessToken } }', 'auth'],
    ['mutation { requestUpload(input: {}) { url } }', 'upload'],
    ['mutation { completeUpload(mediaId: "1") { id } }', 'upload'],
    ['mutation { likePost(postId: "1") { id } }', 'write'],
    ['mutation { createPost(input: {}) { id } }', 'write'],
    ['mutation { addComment(input: {}) { id } }', 'write'],
    ['{ searchUsers(query: "a") { edges { cursor } } }', 'search'],
    ['{ postsByHashtag(tag: "a") { edges { cursor } } }', 'search'],
    ['{ me { id } feed { edges { cursor } } }', 'read'],
    ['subscription { postLiked(postId: "1") { likeCount } }', 'read'],
  ])('should classify %s as %s', (source, expected) => {
    expect(classify(source).class).toBe(expected);
  });

  it('should take the strictest class of mixed root fields', () => {
    expect(classify('{ me { id } searchUsers(query: "a") { edges { cursor } } }').class).toBe('search');
    expect(classify('mutation { likePost(postId: "1") { id } signIn(input: {}) { accessToken } }').class).toBe('auth');
  });

  it('should count root fields through aliases and fragments, not __typename', () => {
    const source =
      'mutation { a: likePost(postId: "1") { id } ...M ... on Mutation { c: likePost(postId: "3") { id } } __typename } fragment M on Mutation { b: likePost(postId: "2") { id } }';
    expect(classify(source)).toEqual({ class: 'write', rootFields: 3 });
  });

  it('should name only root fields the supergraph has (a renamed field would silently become a plain read or write)', () => {
    const api = Supergraph.build(readFileSync(DEFAULT_SUPERGRAPH_PATH, 'utf8')).apiSchema().toGraphQLJSSchema();
    const rootFields = new Set([
      ...Object.keys(api.getQueryType()?.getFields() ?? {}),
      ...Object.keys(api.getMutationType()?.getFields() ?? {}),
    ]);
    expect(Object.keys(ROOT_FIELD_CLASSES).filter((name) => !rootFields.has(name))).toEqual([]);
  });
});
