// The API schema clients see (the supergraph without join directives, internal fields and types), for
// graphql-codegen: `src/generated/schema.graphql`. Run by `npm run generate`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Supergraph } from '@apollo/federation-internals';
import { printSchema } from 'graphql';

const supergraphPath = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));
const outDir = fileURLToPath(new URL('../src/generated/', import.meta.url));

const api = Supergraph.build(await readFile(supergraphPath, 'utf8'))
  .apiSchema()
  .toGraphQLJSSchema();
await mkdir(outDir, { recursive: true });
await writeFile(`${outDir}schema.graphql`, printSchema(api));
