import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as documentsCommand } from '../scripts/documents.ts';
import {
  emptyManifest,
  fragmentsOf,
  operationsOf,
  parseManifest,
  persistedDocumentsOf,
  sha256Hex,
} from '../src/documents/manifest.ts';
import { startTestGateway, type TestGateway } from './helpers.ts';
import { runOnce, wsClient } from './ws-client.ts';

const CLIENT_OPERATIONS = `
query Seen { seen { ...SeenFields } }
query Touches { touches }
mutation Touch { touch }
`;
const CLIENT_FRAGMENTS = 'fragment SeenFields on Seen { userId sessionId }';

const codes = (body: { errors?: { extensions?: { code?: string } }[] }) => body.errors?.map((e) => e.extensions?.code);

describe('trusted documents manifest', () => {
  it('should make one document per operation with the fragments it uses, from any file', () => {
    expect(() => operationsOf(CLIENT_OPERATIONS)).toThrow(/fragment SeenFields is not defined/);
    const [seen, touches] = operationsOf(CLIENT_OPERATIONS, fragmentsOf(CLIENT_FRAGMENTS));
    expect(seen).toBe(
      'query Seen {\n  seen {\n    ...SeenFields\n  }\n}\n\nfragment SeenFields on Seen {\n  userId\n  sessionId\n}',
    );
    expect(touches).toBe('query Touches {\n  touches\n}');
  });

  it('should refuse a codegen file whose hashes are not the sha256 of their documents', () => {
    const text = 'query A { seen { userId } }';
    expect(persistedDocumentsOf({ [sha256Hex(text)]: text }, 'ok.json')).toEqual([text]);
    expect(() => persistedDocumentsOf({ abc123: text }, 'sha1.json')).toThrow(/not the sha256/);
  });

  it('should refuse a manifest whose document was changed after registering', () => {
    const manifest = emptyManifest();
    manifest.documents[sha256Hex('{ seen { userId } }')] = '{ seen { userId sessionId } }';
    expect(() => parseManifest(manifest)).toThrow(/not the sha256/);
  });
});

describe('a gateway that accepts only trusted documents', () => {
  let dir: string;
  let manifestPath: string;
  let t: TestGateway;
  let documents: Record<string, string>;
  const byName = (name: string) => Object.values(documents).find((text) => text.includes(name))!;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trusted-documents-'));
    manifestPath = join(dir, 'manifest.json');
    await writeFile(join(dir, 'operations.graphql'), CLIENT_OPERATIONS);
    await writeFile(join(dir, 'fragments.graphql'), CLIENT_FRAGMENTS);
    const codegenDocument = 'query FromCodegen { seen { userId } }';
    await writeFile(
      join(dir, 'persisted-documents.json'),
      JSON.stringify({ [sha256Hex(codegenDocument)]: codegenDocument }),
    );
    const files = ['operations.graphql', 'fragments.graphql', 'persisted-documents.json'].map((f) => join(dir, f));
    // The fixture schema is not the API: register without validating against it.
    const register = (...paths: string[]) =>
      documentsCommand(['register', '--manifest', manifestPath, '--no-validate', ...paths]);
    expect(await register(...files)).toBe(0);
    // Registering again changes nothing.
    const first = await readFile(manifestPath, 'utf8');
    expect(await register(...files)).toBe(0);
    expect(await readFile(manifestPath, 'utf8')).toBe(first);
    documents = parseManifest(JSON.parse(first)).documents;
    expect(Object.keys(documents)).toHaveLength(4);
    t = await startTestGateway({ TRUSTED_DOCUMENTS_PATH: manifestPath });
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('should run a registered operation sent as text', async () => {
    const { status, body } = await t.post({ query: byName('query Seen') });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { seen: { userId: null, sessionId: null } } });
  });

  it('should run a registered operation sent as its hash alone', async () => {
    const hash = sha256Hex(byName('FromCodegen'));
    const { status, body } = await t.post({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { seen: { userId: null } } });
  });

  it('should refuse any other operation with PERSISTED_QUERY_NOT_IN_LIST without running it', async () => {
    const count = async () => (await t.post({ query: byName('Touches') })).body.data?.touches;
    const before = await count();
    const { status, body } = await t.post({ query: 'mutation { touch }' });
    expect(status).toBe(400);
    expect(codes(body)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect(await count()).toBe(before);
  });

  it('should not let APQ register a new operation', async () => {
    const query = '{ seen { sessionId } }';
    const persistedQuery = { version: 1, sha256Hash: sha256Hex(query) };
    const registering = await t.post({ query, extensions: { persistedQuery } });
    expect(codes(registering.body)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    const byHash = await t.post({ extensions: { persistedQuery } });
    expect(codes(byHash.body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it('should apply the same list to operations over websockets', async () => {
    const { client } = wsClient(t.gateway.url);
    const refused = await runOnce(client, '{ seen { userId } }');
    const allowed = await runOnce(client, byName('FromCodegen'));
    await client.dispose();
    expect(codes({ errors: refused.error as { extensions?: { code?: string } }[] })).toEqual([
      'PERSISTED_QUERY_NOT_IN_LIST',
    ]);
    expect(allowed).toEqual({ results: [{ data: { seen: { userId: null } } }] });
  });
});

describe('npm run documents -- register', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'documents-command-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('should validate operations against the public API and write nothing when one is invalid', async () => {
    const manifest = join(dir, 'manifest.json');
    await writeFile(join(dir, 'good.graphql'), 'query Me { me { id username } }');
    await writeFile(join(dir, 'bad.graphql'), 'query Typo { me { id usernam } }');
    const errors: string[] = [];
    const error = vi.spyOn(console, 'error').mockImplementation((message: string) => void errors.push(message));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(
        await documentsCommand([
          'register',
          '--manifest',
          manifest,
          join(dir, 'good.graphql'),
          join(dir, 'bad.graphql'),
        ]),
      ).toBe(1);
      expect(errors.join('\n')).toMatch(/Cannot query field "usernam"/);
      await expect(readFile(manifest, 'utf8')).rejects.toThrow(/ENOENT/);
      expect(await documentsCommand(['register', '--manifest', manifest, join(dir, 'good.graphql')])).toBe(0);
      expect(Object.values(parseManifest(JSON.parse(await readFile(manifest, 'utf8'))).documents)).toEqual([
        'query Me {\n  me {\n    id\n    username\n  }\n}',
      ]);
    } finally {
      error.mockRestore();
      log.mockRestore();
    }
  });
});
