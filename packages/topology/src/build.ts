import { readFile, rename, stat, writeFile, mkdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { ENTRY_POINTS, type ServiceName } from './services.ts';

/** The repository root (this file is packages/topology/src/build.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Where `npm run build` writes one bundle per process: `dist/<name>.mjs` (and its source map). */
export const DIST_DIR = join(REPO_ROOT, 'dist');

export const bundlePath = (name: ServiceName) => join(DIST_DIR, `${name}.mjs`);
const META_FILE = join(DIST_DIR, 'meta.json');

const posix = (path: string) => path.split(sep).join('/');
const inNodeModules = (path: string) => path.split(sep).includes('node_modules');

/**
 * Our own sources (and Prisma's generated client) find files next to them through `import.meta.url`
 * (schema/*.graphql, the explorer bundle, the supergraph, the Prisma CLI). In a bundle that URL is the bundle's,
 * so each use is rewritten to the URL of the original source file, relative to the bundle: the bundle works
 * wherever the repository is, as long as dist/ stays in it.
 */
const sourceLocation: esbuild.Plugin = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, async (args) => {
      if (inNodeModules(args.path)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const fromDist = posix(relative(DIST_DIR, args.path));
      const contents = source.replaceAll(
        'import.meta.url',
        `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`,
      );
      return { contents, loader: args.path.endsWith('ts') ? 'ts' : 'js' };
    });
  },
};

/**
 * Workspace packages (`@insta/*`, TypeScript sources) are bundled; every other package stays external and is
 * loaded by Node from node_modules. A package npm did not hoist (nested under a workspace's node_modules) is
 * imported by its path relative to the bundle, since Node would not find it from dist/.
 */
const externalPackages: esbuild.Plugin = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('@insta/') || args.pluginData?.probe || args.kind === 'entry-point') return undefined;
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const probe = { kind: args.kind, pluginData: { probe: true } };
      const fromImporter = await build.resolve(args.path, { ...probe, resolveDir: args.resolveDir });
      if (fromImporter.errors.length > 0) return { errors: fromImporter.errors };
      if (!fromImporter.path || fromImporter.external) return { path: args.path, external: true };
      const fromDist = await build.resolve(args.path, { ...probe, resolveDir: REPO_ROOT });
      if (fromDist.path === fromImporter.path) return { path: args.path, external: true };
      return { path: `./${posix(relative(DIST_DIR, fromImporter.path))}`, external: true };
    });
  },
};

export interface BuildResult {
  bundles: Record<ServiceName, string>;
}

/**
 * Bundles the gateway and every subgraph entry point into dist/<name>.mjs (ESM, Node 20, source maps), written
 * atomically so a process starting meanwhile never reads half a file.
 */
export async function buildServices(): Promise<BuildResult> {
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ENTRY_POINTS,
    outdir: DIST_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    format: 'esm',
    sourcemap: 'linked',
    // Stack traces in logs point at the TypeScript sources.
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [sourceLocation, externalPackages],
    // Bundled CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  await mkdir(DIST_DIR, { recursive: true });
  const suffix = `.tmp-${process.pid}`;
  await Promise.all(
    result.outputFiles.map(async (file) => {
      await writeFile(file.path + suffix, file.contents);
      await rename(file.path + suffix, file.path);
    }),
  );
  const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.includes('node_modules/'));
  await writeFile(META_FILE + suffix, JSON.stringify({ inputs }));
  await rename(META_FILE + suffix, META_FILE);
  return {
    bundles: Object.fromEntries(
      Object.keys(ENTRY_POINTS).map((name) => [name, bundlePath(name as ServiceName)]),
    ) as Record<ServiceName, string>,
  };
}

const mtime = (path: string) =>
  stat(path).then(
    (s) => s.mtimeMs,
    () => undefined,
  );

/** True when a bundle is missing or a source it was built from (SDL and generated code included) is newer. */
export async function bundlesOutdated(): Promise<boolean> {
  let inputs: string[];
  try {
    inputs = (JSON.parse(await readFile(META_FILE, 'utf8')) as { inputs: string[] }).inputs;
  } catch {
    return true;
  }
  const built = await Promise.all(Object.keys(ENTRY_POINTS).map((name) => mtime(bundlePath(name as ServiceName))));
  if (built.some((t) => t === undefined)) return true;
  const oldest = Math.min(...(built as number[]));
  const sources = await Promise.all(inputs.map((input) => mtime(join(REPO_ROOT, input))));
  return sources.some((t) => t === undefined || t > oldest);
}

/** Builds when the bundles are missing or out of date; what `runtime: 'dist'` does before it starts anything. */
export async function ensureBuilt(): Promise<void> {
  if (await bundlesOutdated()) await buildServices();
}
