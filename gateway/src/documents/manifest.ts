import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DefinitionNode, FragmentDefinitionNode, SelectionSetNode } from 'graphql';
import { Kind, parse, print } from 'graphql';

/**
 * The trusted-documents manifest: every operation a client may send, keyed by the sha256 (hex) of its exact
 * text, the hash Apollo's persisted queries (APQ) carry. `npm run documents -- register` writes it; the gateway
 * loads it with TRUSTED_DOCUMENTS_PATH.
 */
export const MANIFEST_FORMAT = 'insta-trusted-documents/1';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  documents: Record<string, string>;
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export const emptyManifest = (): Manifest => ({ format: MANIFEST_FORMAT, documents: {} });

/** Checks a manifest read from disk: its format, and that every key is the sha256 of its document. */
export function parseManifest(json: unknown, source = 'manifest'): Manifest {
  const value = json as Partial<Manifest> | null;
  if (value?.format !== MANIFEST_FORMAT || typeof value.documents !== 'object' || value.documents === null) {
    throw new Error(`${source}: not a trusted-documents manifest (format "${MANIFEST_FORMAT}")`);
  }
  for (const [hash, text] of Object.entries(value.documents)) {
    if (typeof text !== 'string' || sha256Hex(text) !== hash) {
      throw new Error(`${source}: document ${hash} is not the sha256 of its text`);
    }
  }
  return { format: MANIFEST_FORMAT, documents: { ...value.documents } };
}

export async function readManifest(path: string): Promise<Manifest> {
  return parseManifest(JSON.parse(await readFile(path, 'utf8')), path);
}

const fragmentSpreads = (selectionSet: SelectionSetNode, into: Set<string>) => {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) into.add(selection.name.value);
    else if (selection.selectionSet) fragmentSpreads(selection.selectionSet, into);
  }
};

/**
 * The operations of a `.graphql` file, one document each: the operation and the fragments it uses (from the
 * file or from `sharedFragments`), printed the way graphql-js prints them (what a client that prints the same
 * AST sends).
 */
export function operationsOf(source: string, sharedFragments: readonly FragmentDefinitionNode[] = []): string[] {
  const definitions = parse(source).definitions;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const fragment of [...sharedFragments, ...definitions]) {
    if (fragment.kind === Kind.FRAGMENT_DEFINITION) fragments.set(fragment.name.value, fragment);
  }
  return definitions
    .filter((d) => d.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => {
      const used = new Set<string>();
      fragmentSpreads(operation.selectionSet, used);
      // Fragments using fragments: grow the set until it stops.
      for (let size = -1; size !== used.size; ) {
        size = used.size;
        for (const name of [...used]) {
          const fragment = fragments.get(name);
          if (!fragment) throw new Error(`fragment ${name} is not defined`);
          fragmentSpreads(fragment.selectionSet, used);
        }
      }
      const parts: DefinitionNode[] = [operation, ...[...used].sort().map((name) => fragments.get(name)!)];
      return print({ kind: Kind.DOCUMENT, definitions: parts });
    });
}

/** Fragment definitions of a `.graphql` file (so operations in other files can use them). */
export function fragmentsOf(source: string): FragmentDefinitionNode[] {
  return parse(source).definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
}

/**
 * The documents of a graphql-codegen `persisted-documents.json` (client preset, `persistedDocuments: true`):
 * `{ "<hash>": "<document>" }`. Its hashes must be sha256 (codegen's default `hashAlgorithm`), since that is
 * what the client sends.
 */
export function persistedDocumentsOf(json: unknown, source: string): string[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected { "<hash>": "<document>" }`);
  }
  return Object.entries(json).map(([hash, text]) => {
    if (typeof text !== 'string') throw new Error(`${source}: ${hash} is not a document string`);
    if (hash !== sha256Hex(text)) {
      throw new Error(`${source}: ${hash} is not the sha256 of its document (set hashAlgorithm: 'sha256' in codegen)`);
    }
    parse(text);
    return text;
  });
}

/** Adds documents; returns how many were new. */
export function register(manifest: Manifest, documents: readonly string[]): number {
  let added = 0;
  for (const text of documents) {
    const hash = sha256Hex(text);
    if (manifest.documents[hash] === undefined) added++;
    manifest.documents[hash] = text;
  }
  return added;
}
