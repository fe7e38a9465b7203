import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInputText } from '../src/input/input-hygiene.ts';
import { graphql } from '../src/graphql-runtime.ts';
import { startTestGateway, type GraphQLBody, type TestGateway } from './helpers.ts';
import { runOnce, wsClient } from './ws-client.ts';

type Errors = { message: string; extensions?: { code?: string; field?: string } }[];
const errorsOf = (body: GraphQLBody) => body.errors as Errors | undefined;

const TOUCH = 'mutation Touch($note: String, $input: NoteInput) { touch(note: $note, input: $input) }';

describe('input hygiene at the gateway', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(() => t.close());

  const touches = async () => (await t.post({ query: '{ touches }' })).body.data?.touches as number;

  it.each([
    ['a variable', { query: TOUCH, variables: { note: 'bad\u0000text' } }, 'note'],
    ['a nested input field', { query: TOUCH, variables: { input: { text: 'x\u0000' } } }, 'input.text'],
    ['a list item', { query: TOUCH, variables: { input: { tags: ['ok', '\u0000'] } } }, 'input.tags.1'],
    ['a literal', { query: 'mutation { touch(note: "bad\\u0000text") }' }, undefined],
  ])('should refuse a NUL character in %s with BAD_USER_INPUT, before any subgraph', async (_where, body, field) => {
    const before = await touches();
    const { status, body: reply } = await t.post(body);
    expect(status).toBe(400);
    expect(errorsOf(reply)).toHaveLength(1);
    expect(errorsOf(reply)?.[0]).toMatchObject({ message: 'Text must not contain NUL characters' });
    expect(errorsOf(reply)?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errorsOf(reply)?.[0]?.extensions?.field).toBe(field);
    expect(await touches()).toBe(before);
  });

  it('should pass text without NUL characters through', async () => {
    const { body } = await t.post({ query: TOUCH, variables: { note: 'fine \u2028 text', input: { tags: ['a'] } } });
    expect(body).toEqual({ data: { touch: true } });
  });

  it('should refuse a NUL character in an operation sent over a websocket', async () => {
    const { client } = wsClient(t.gateway.url);
    const outcome = await runOnce(client, TOUCH, { note: '\u0000' });
    await client.dispose();
    expect(outcome.results).toEqual([]);
    expect((outcome.error as Errors).map((e) => e.extensions)).toEqual([{ code: 'BAD_USER_INPUT', field: 'note' }]);
  });

  it('should suggest field names in variable errors outside production', async () => {
    const { body } = await t.post({ query: TOUCH, variables: { input: { txt: 'x' } } });
    expect(errorsOf(body)?.[0]?.message).toMatch(/Did you mean "text"\?/);
  });
});

describe('input hygiene in production', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ NODE_ENV: 'production' });
  });
  afterAll(() => t.close());

  it('should leave "Did you mean" out of variable-coercion errors', async () => {
    const { status, body } = await t.post({ query: TOUCH, variables: { input: { txt: 'x' } } });
    expect(status).toBe(400);
    const [error] = errorsOf(body) ?? [];
    expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error?.message).toMatch(/Field "txt" is not defined by type "NoteInput"\.$/);
    expect(error?.message).not.toMatch(/Did you mean/);
  });
});

describe('checkInputText', () => {
  const document = graphql.parse('query($a: String) { a(x: $a) }');

  it('should name the first variable path holding a NUL', () => {
    expect(() => checkInputText(document, { a: { b: [{ c: 'ok' }, { c: 'x\u0000' }] } })).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ field: 'a.b.1.c' }) }),
    );
  });

  it('should refuse a NUL literal on every request of the same document, and accept a clean one every time', () => {
    const bad = graphql.parse('mutation { touch(note: "bad\\u0000text") }');
    const good = graphql.parse('mutation { touch(note: "good") }');
    for (let i = 0; i < 3; i++) {
      expect(() => checkInputText(bad, undefined)).toThrow('Text must not contain NUL characters');
      expect(() => checkInputText(good, undefined)).not.toThrow();
    }
  });

  it('should accept operations without strings', () => {
    expect(() => checkInputText(document, { a: 1, b: null, c: [true] })).not.toThrow();
  });
});
