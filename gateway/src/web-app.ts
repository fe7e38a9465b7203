import { readFile, readdir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The reference web client's build (`npm run generate` runs `vite build` in web/). */
export const DEFAULT_WEB_APP_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));
export const WEB_APP_PREFIX = '/app';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface WebApp {
  /** Serves the page or one of its files; false when `path` is not under /app. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

/**
 * The web client at /app, from memory, on the gateway's origin (so it calls /graphql there, no CORS). Vite puts
 * a content hash in every asset name under assets/: those are cached for good; the page is not cached. Null when
 * the client is not built (the gateway then serves the API alone).
 */
export async function loadWebApp(dir = DEFAULT_WEB_APP_DIR): Promise<WebApp | null> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return null;
  }
  const files = new Map<string, { body: Buffer; contentType: string }>();
  for (const entry of entries) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || !contentType) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(`/${relative(dir, path).split('\\').join('/')}`, { body: await readFile(path), contentType });
  }
  const page = files.get('/index.html');
  if (!page) return null;
  return {
    handle(req, res, path) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path !== WEB_APP_PREFIX && !path.startsWith(`${WEB_APP_PREFIX}/`)) return false;
      const file = files.get(path.slice(WEB_APP_PREFIX.length));
      const asset = path.startsWith(`${WEB_APP_PREFIX}/assets/`);
      // An asset of another build (a page cached from before a deploy) is missing, not the page.
      if (asset && !file) return false;
      // The client routes with the URL's hash, so any other path under /app is the page.
      const { body, contentType } = asset && file ? file : page;
      res.writeHead(200, {
        'content-type': contentType,
        'content-length': body.length,
        'cache-control': asset ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
