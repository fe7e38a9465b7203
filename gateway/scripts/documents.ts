import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supergraph } from '@apollo/federation-internals';
import { DEFAULT_SUPERGRAPH_PATH } from '../src/config.ts';
import { graphql } from '../src/graphql-runtime.ts';
import {
  emptyManifest,
  fragmentsOf,
  operationsOf,
  persistedDocumentsOf,
  readManifest,
  register,
  type Manifest,
} from '../src/documents/manifest.ts';

const USAGE = `usage: npm run documents -- register [--manifest <path>] [--no-validate] <file.graphql | persisted-documents.json>...

Adds every operation of the files to the trusted-documents manifest the gateway loads with
TRUSTED_DOCUMENTS_PATH (default manifest: $TRUSTED_DOCUMENTS_PATH, else ./trusted-documents.json).
  .graphql  each operation, with the fragments it uses (from any of the files), printed by graphql-js
  .json     a graphql-codegen persisted-documents file ({ "<sha256>": "<document>" })
Each operation is validated against the public API of schema/supergraph.graphql first (--no-validate: not).`;

/** Validation errors of a document against the public API (the supergraph without @inaccessible fields). */
async function apiValidator(): Promise<(document: string) => string[]> {
  const sdl = await readFile(DEFAULT_SUPERGRAPH_PATH, 'utf8');
  const api = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
  return (document) => graphql.validate(api, graphql.parse(document)).map((error) => error.message);
}

async function readOrEmpty(path: string): Promise<Manifest> {
  try {
    return await readManifest(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyManifest();
    throw error;
  }
}

/** `register`: reads the files, adds their operations, writes the manifest back (sorted, so diffs stay small). */
export async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'register' || rest.length === 0) {
    console.error(USAGE);
    return 2;
  }
  let manifestPath = process.env.TRUSTED_DOCUMENTS_PATH || 'trusted-documents.json';
  const files: string[] = [];
  let validate = true;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--manifest') manifestPath = rest[++i] ?? '';
    else if (rest[i] === '--no-validate') validate = false;
    else files.push(rest[i]!);
  }
  if (!manifestPath || files.length === 0) {
    console.error(USAGE);
    return 2;
  }

  // npm runs scripts in the repository root; paths are the caller's.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  manifestPath = resolve(cwd, manifestPath);
  const sources = await Promise.all(
    files.map(async (file) => ({ file, text: await readFile(resolve(cwd, file), 'utf8') })),
  );
  const graphqlSources = sources.filter(({ file }) => !file.endsWith('.json'));
  const sharedFragments = graphqlSources.flatMap(({ text }) => fragmentsOf(text));
  const documents: string[] = [];
  for (const { file, text } of sources) {
    try {
      documents.push(
        ...(file.endsWith('.json')
          ? persistedDocumentsOf(JSON.parse(text), file)
          : operationsOf(text, sharedFragments)),
      );
    } catch (error) {
      console.error(`documents: ${file}: ${(error as Error).message}`);
      return 1;
    }
  }
  if (validate) {
    const errorsOf = await apiValidator();
    const invalid = documents
      .map((document) => ({ document, errors: errorsOf(document) }))
      .filter((d) => d.errors.length);
    for (const { document, errors } of invalid) {
      console.error(`documents: not valid against the API:\n${document}\n  ${errors.join('\n  ')}`);
    }
    if (invalid.length) return 1;
  }
  const manifest = await readOrEmpty(manifestPath);
  const added = register(manifest, documents);
  const sorted = Object.fromEntries(Object.entries(manifest.documents).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(manifestPath, `${JSON.stringify({ ...manifest, documents: sorted }, null, 2)}\n`);
  console.log(
    `documents: ${added} new of ${documents.length} operations; ${Object.keys(sorted).length} in ${resolve(manifestPath)}`,
  );
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
