import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_NODE_FLAGS, REPO_ROOT, serviceCommand } from '../src/index.ts';

describe('production Node flags', () => {
  it('should start every compiled service with the production flags, before the bundle', () => {
    const { args } = serviceCommand('posts', 'dist', ['--cpu-prof']);
    expect(args.slice(0, -1)).toEqual(['--enable-source-maps', ...PRODUCTION_NODE_FLAGS, '--cpu-prof']);
    expect(args.at(-1)).toMatch(/dist\/posts\.mjs$/);
  });

  it('should give the image the same flags, in NODE_OPTIONS for every service of the compose file', () => {
    const dockerfile = readFileSync(`${REPO_ROOT}/Dockerfile`, 'utf8');
    const match = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile);
    expect(match?.[1]?.split(' ').filter(Boolean) ?? []).toEqual([...PRODUCTION_NODE_FLAGS]);
  });

  it('should be flags Node accepts in NODE_OPTIONS', () => {
    const out = execFileSync(process.execPath, ['-p', "require('v8').getHeapStatistics().total_heap_size > 0"], {
      env: { ...process.env, NODE_OPTIONS: PRODUCTION_NODE_FLAGS.join(' ') },
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('true');
  });
});
