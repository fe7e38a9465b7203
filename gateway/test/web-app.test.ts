import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebApp } from '../src/web-app.ts';

let dir: string;
let server: Server;
let origin: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'web-app-test-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
  await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  const app = await loadWebApp(dir);
  server = createServer((req, res) => {
    if (!app?.handle(req, res, (req.url ?? '/').split('?')[0]!)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  origin = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('the web app route', () => {
  it('should serve the page, uncached, on /app and any path below it', async () => {
    for (const path of ['/app', '/app/', '/app/some/where']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it('should serve hashed assets for good, and nothing outside /app', async () => {
    const res = await fetch(`${origin}/app/assets/index-abc123.js`);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toMatch(/immutable/);
    expect(await res.text()).toBe('console.log(1)');
    expect((await fetch(`${origin}/application`)).status).toBe(404);
    expect((await fetch(`${origin}/app/assets/nope.js`)).status).toBe(404);
  });

  it('should be absent when the client is not built', async () => {
    expect(await loadWebApp(join(dir, 'missing'))).toBeNull();
  });
});
