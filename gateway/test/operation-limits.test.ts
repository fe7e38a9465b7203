import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { parseWithLimits } from '../src/operation-limits.ts';
import { startTestGateway, type TestGateway } from './helpers.ts';

const nested = (levels: number) => {
  let selection = 'id';
  for (let i = 0; i < levels; i++) selection = `friends { ${selection} }`;
  return `{ user(id: "1") { ${selection} } }`;
};

describe('operation limits', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ MAX_DEPTH: '5', MAX_ALIASES: '3', MAX_TOKENS: '200', MAX_COST: '500' });
  });
  afterAll(() => t.close());

  const expectLimitError = async (query: string, message: RegExp) => {
    const { status, body } = await t.post({ query });
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]?.extensions?.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(body.errors?.[0]?.message).toMatch(message);
  };

  it('should run an operation within every limit', async () => {
    const { status, body } = await t.post({ query: nested(3).replaceAll('friends', 'friends(first: 2)') });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it('should reject an operation nested deeper than MAX_DEPTH', async () => {
    await expectLimitError(nested(5), /depth limit of 5 exceeded, found 7/);
  });

  it('should count the depth of fragments', async () => {
    const query = `{ user(id: "1") { ...F } } fragment F on User { friends { friends { friends { friends { id } } } } }`;
    await expectLimitError(query, /depth limit of 5 exceeded/);
  });

  it('should reject more aliases than MAX_ALIASES', async () => {
    await expectLimitError(
      '{ a: seen { userId } b: seen { userId } c: seen { userId } d: seen { userId } }',
      /Aliases limit of 3 exceeded, found 4/,
    );
  });

  it('should reject a document longer than MAX_TOKENS', async () => {
    const query = `{ ${Array.from({ length: 250 }, () => '__typename').join(' ')} }`;
    await expectLimitError(query, /Token limit of 200 exceeded/);
  });

  it('should reject an operation whose cost is above MAX_COST', async () => {
    await expectLimitError(
      '{ user(id: "1") { friends(first: 100) { friends(first: 100) { id } } } }',
      /Cost limit of 500 exceeded/,
    );
  });

  it('should leave introspection out of the depth and cost limits', async () => {
    const query = '{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }';
    const { status, body } = await t.post({ query });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });
});

describe('parseWithLimits', () => {
  it('should parse a document within the token limit', () => {
    expect(parseWithLimits('{ a b c }', { MAX_TOKENS: 10 }).definitions).toHaveLength(1);
  });

  it('should throw OPERATION_LIMIT_EXCEEDED for a document over the token limit', () => {
    try {
      parseWithLimits('{ a b c d e f g h }', { MAX_TOKENS: 5 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(GraphQLError);
      expect((error as GraphQLError).extensions.code).toBe('OPERATION_LIMIT_EXCEEDED');
    }
  });

  it('should keep ordinary syntax errors as they are', () => {
    expect(() => parseWithLimits('{ a ', { MAX_TOKENS: 100 })).toThrow(/Syntax Error/);
  });
});
