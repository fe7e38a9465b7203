import { describe, expect, it } from 'vitest';
import { checkSupergraph, composeSupergraph, type SubgraphSdl } from '../src/compose.ts';
import { fixtureSdls } from './helpers.ts';

const subgraphs = (): SubgraphSdl[] => [
  { name: 'users', url: 'http://users:4001/graphql', sdl: fixtureSdls().users },
  { name: 'posts', url: 'http://posts:4002/graphql', sdl: fixtureSdls().posts },
];

describe('supergraph composition', () => {
  it('should compose the subgraphs with their docker-compose URLs', () => {
    const result = composeSupergraph(subgraphs());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.supergraphSdl).toContain('@join__graph(name: "users", url: "http://users:4001/graphql")');
    expect(result.supergraphSdl).toContain('@join__graph(name: "posts", url: "http://posts:4002/graphql")');
  });

  it('should accept a committed supergraph that matches the SDL', () => {
    const composed = composeSupergraph(subgraphs());
    if (!composed.ok) throw new Error('composition failed');
    expect(checkSupergraph(composed.supergraphSdl, composed)).toEqual({ ok: true });
  });

  it('should detect a stale supergraph after a subgraph changed', () => {
    const before = composeSupergraph(subgraphs());
    if (!before.ok) throw new Error('composition failed');
    const changed = subgraphs().map((s) =>
      s.name === 'posts' ? { ...s, sdl: s.sdl.replace('text: String!', 'text: String!\n  likeCount: Int!') } : s,
    );
    const result = checkSupergraph(before.supergraphSdl, composeSupergraph(changed));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/stale/);
  });

  it('should report a missing supergraph file', () => {
    const result = checkSupergraph(null, composeSupergraph(subgraphs()));
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/missing/) });
  });

  it('should report composition errors with the subgraph they come from', () => {
    const broken = subgraphs().map((s) =>
      s.name === 'posts' ? { ...s, sdl: s.sdl.replace('id: ID!\n  posts', 'id: Int!\n  posts') } : s,
    );
    const result = composeSupergraph(broken);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toMatch(/User\.id/);
    const check = checkSupergraph('anything', result);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(/composition failed/);
  });

  it('should report an SDL syntax error naming the subgraph', () => {
    const result = composeSupergraph([{ name: 'users', url: 'http://users:4001/graphql', sdl: 'type {' }]);
    expect(result).toEqual({ ok: false, errors: [expect.stringMatching(/^\[users\] Syntax Error/)] });
  });
});
