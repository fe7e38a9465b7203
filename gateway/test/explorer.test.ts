import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPLORER_DIST } from '../src/explorer.ts';
import { startTestGateway, type TestGateway } from './helpers.ts';

describe('explorer', () => {
  let t: TestGateway;
  let origin: string;
  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) {
      execFileSync(process.execPath, ['build-explorer.mjs'], { cwd: new URL('..', import.meta.url) });
    }
    t = await startTestGateway({ EXPLORER: 'true' });
    origin = new URL(t.gateway.url).origin;
  });
  afterAll(() => t.close());

  it('should serve the explorer page to a browser on GET /graphql and GET /explorer', async () => {
    for (const url of [t.gateway.url, `${origin}/explorer`]) {
      const response = await fetch(url, { headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/text\/html/);
      expect(await response.text()).toContain('<div id="graphiql">');
    }
  });

  it('should serve every script, style and worker the page references from the gateway itself', async () => {
    const html = await (await fetch(`${origin}/explorer`)).text();
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g), ...html.matchAll(/"(\/explorer\/[^"]+)"/g)].map(
      (m) => m[1] ?? '',
    );
    expect(references.every((ref) => ref.startsWith('/explorer/'))).toBe(true);
    expect(references.some((ref) => ref.endsWith('.js'))).toBe(true);
    expect(references.some((ref) => ref.endsWith('.css'))).toBe(true);
    for (const ref of new Set(references)) {
      const response = await fetch(`${origin}${ref}`);
      expect(response.status, ref).toBe(200);
      expect(response.headers.get('cache-control')).toMatch(/immutable/);
    }
  });

  it('should send scripts gzipped to clients that accept gzip', async () => {
    const html = await (await fetch(`${origin}/explorer`)).text();
    const script = /src="([^"]+\.js)"/.exec(html)?.[1];
    const response = await fetch(`${origin}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect((await response.text()).length).toBeGreaterThan(100_000);
  });

  it('should still answer GraphQL POSTs on /graphql', async () => {
    const { body } = await t.post({ query: '{ seen { userId } }' });
    expect(body).toEqual({ data: { seen: { userId: null } } });
  });

  it('should answer 404 for an unknown explorer asset', async () => {
    expect((await fetch(`${origin}/explorer/nope.js`)).status).toBe(404);
  });
});
