import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SUBGRAPHS, checkSupergraph, composeSupergraph } from '../src/compose.ts';

/** `tsx gateway/scripts/compose.ts [--check]`: writes (or, with --check, verifies) schema/supergraph.graphql. */
const schemaDir = fileURLToPath(new URL('../../schema/', import.meta.url));
const supergraphPath = `${schemaDir}supergraph.graphql`;

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const subgraphs = [];
  for (const { name, url } of SUBGRAPHS) {
    const sdl = await readOrNull(`${schemaDir}${name}.graphql`);
    if (sdl === null) {
      console.error(`compose: schema/${name}.graphql is missing`);
      return 1;
    }
    subgraphs.push({ name, url, sdl });
  }
  const composed = composeSupergraph(subgraphs);
  if (check) {
    const result = checkSupergraph(await readOrNull(supergraphPath), composed);
    if (!result.ok) {
      console.error(`compose --check: ${result.reason}`);
      return 1;
    }
    console.log('compose --check: schema/supergraph.graphql is up to date');
    return 0;
  }
  if (!composed.ok) {
    console.error(`compose: composition failed:\n${composed.errors.join('\n')}`);
    return 1;
  }
  for (const hint of composed.hints) console.warn(`hint: ${hint}`);
  await writeFile(supergraphPath, composed.supergraphSdl);
  console.log(`compose: wrote schema/supergraph.graphql (${SUBGRAPHS.length} subgraphs)`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
