// Bundles the explorer (explorer/main.js: GraphiQL + Monaco workers) into explorer-dist/ for the gateway to
// serve offline. Run by `npm run generate`. Output names carry a content hash so the gateway can cache them.
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));
const outdir = `${root}explorer-dist`;
const PREFIX = '/explorer/';

const workers = {
  editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
  json: 'monaco-editor/esm/vs/language/json/json.worker.js',
  graphql: 'monaco-graphql/esm/graphql.worker.js',
};

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'file' },
};

/** Output file (as served under /explorer/) of the entry point named `name`. */
function outputOf(metafile, name, ext) {
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (output.entryPoint && path.endsWith(ext) && basename(path).startsWith(`${name}-`))
      return PREFIX + basename(path);
  }
  throw new Error(`build-explorer: no ${ext} output for ${name}`);
}

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

const workerBuild = await build({
  ...common,
  entryPoints: Object.fromEntries(Object.entries(workers).map(([label, file]) => [`${label}.worker`, file])),
});
const workerUrls = Object.fromEntries(
  Object.keys(workers).map((label) => [label, outputOf(workerBuild.metafile, `${label}.worker`, '.js')]),
);

const mainBuild = await build({ ...common, entryPoints: { main: 'explorer/main.js' }, splitting: false });
const script = outputOf(mainBuild.metafile, 'main', '.js');
const style = Object.keys(mainBuild.metafile.outputs).find(
  (p) => basename(p).startsWith('main-') && p.endsWith('.css'),
);

const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Insta GraphQL explorer</title>
    <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
    ${style ? `<link rel="stylesheet" href="${PREFIX}${basename(style)}" />` : ''}
    <script type="application/json" id="explorer-workers">${JSON.stringify(workerUrls)}</script>
    <script type="module" src="${script}"></script>
  </head>
  <body>
    <div id="graphiql">Loading the explorer…</div>
  </body>
</html>
`;
await writeFile(`${outdir}/index.html`, html);

// Precompressed copies for clients that accept gzip (the main bundle is ~5 MB, ~1.5 MB gzipped).
for (const name of await readdir(outdir)) {
  if (/\.(js|css)$/.test(name))
    await writeFile(`${outdir}/${name}.gz`, gzipSync(await readFile(`${outdir}/${name}`), { level: 9 }));
}
console.log(
  `build-explorer: wrote explorer-dist/ (${Object.keys(mainBuild.metafile.outputs).length + Object.keys(workerBuild.metafile.outputs).length} files)`,
);
