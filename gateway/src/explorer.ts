import { readFile, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The bundled GraphiQL (built by `npm run generate -w @insta/gateway` into explorer-dist/), served from memory:
 * the page on GET /explorer (and GET /graphql for browsers), its hashed assets under /explorer/.
 * No CDN: everything the page loads comes from here.
 */
export const EXPLORER_DIST = fileURLToPath(new URL('../explorer-dist/', import.meta.url));
export const EXPLORER_PREFIX = '/explorer/';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

interface Asset {
  body: Buffer;
  /** build-explorer.mjs writes `<name>.gz` next to scripts and styles. */
  gzipped?: Buffer;
  contentType: string;
}

export interface Explorer {
  /** Serves the page or an asset; false when `path` is not the explorer's. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

export async function loadExplorer(dir = EXPLORER_DIST): Promise<Explorer> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new Error(`The explorer is not built (${dir} is missing): run \`npm run generate\`, or set EXPLORER=false`);
  }
  const assets = new Map<string, Asset>();
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (!contentType) continue;
    const gzipped = names.includes(`${name}.gz`) ? await readFile(join(dir, `${name}.gz`)) : undefined;
    assets.set(name, { body: await readFile(join(dir, name)), gzipped, contentType });
  }
  const page = assets.get('index.html');
  if (!page) throw new Error(`The explorer build in ${dir} has no index.html: run \`npm run generate\``);

  const send = (req: IncomingMessage, res: ServerResponse, asset: Asset, cacheControl: string) => {
    const gzip = asset.gzipped && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip && asset.gzipped ? asset.gzipped : asset.body;
    res.writeHead(200, {
      'content-type': asset.contentType,
      'content-length': body.length,
      'cache-control': cacheControl,
      'x-content-type-options': 'nosniff',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return {
    handle(req, res, path) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path === '/explorer' || path === EXPLORER_PREFIX || (path === '/graphql' && prefersHtml(req))) {
        send(req, res, page, 'no-cache');
        return true;
      }
      if (!path.startsWith(EXPLORER_PREFIX)) return false;
      const asset = assets.get(path.slice(EXPLORER_PREFIX.length));
      if (!asset || asset === page) return false;
      // Asset names carry a content hash (see build-explorer.mjs).
      send(req, res, asset, 'public, max-age=31536000, immutable');
      return true;
    },
  };
}

/** A browser navigating to /graphql (as Apollo Server decides for its landing page). */
function prefersHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html');
}
