import { describe, expect, it } from 'vitest';
import { parseReplicas } from '../src/index.ts';

describe('--replicas', () => {
  it('should give every service N processes, then let name=N override one', () => {
    expect(parseReplicas(['2', 'users=3'])).toEqual({
      users: 3,
      posts: 2,
      feed: 2,
      'social-graph': 2,
      media: 2,
      gateway: 2,
    });
  });

  it('should leave services not named at their default', () => {
    expect(parseReplicas(['gateway=2'])).toEqual({ gateway: 2 });
    expect(parseReplicas([])).toEqual({});
  });

  it('should refuse an unknown service or a count that is not a positive integer', () => {
    expect(() => parseReplicas(['search=2'])).toThrow('unknown service "search"');
    expect(() => parseReplicas(['users=0'])).toThrow('"0" is not a positive integer');
    expect(() => parseReplicas(['two'])).toThrow('"two" is not a positive integer');
  });
});
