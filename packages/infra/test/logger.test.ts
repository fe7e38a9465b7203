import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, requestIdOf, withLogContext, withServerSpan } from '../src/index.ts';
import { startInMemoryTracing } from '../src/testing/index.ts';

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return { stream, text: () => chunks.join('') };
}

describe('logs', () => {
  it('should write one JSON object a line with the request id of the request being handled', async () => {
    const out = capture();
    const logger = createLogger('log-test', 'info', 'json', out.stream);
    await withLogContext({ request_id: 'req-1' }, async () => {
      await Promise.resolve();
      logger.info('inside');
    });
    logger.info('outside');
    const [inside, outside] = out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(inside).toMatchObject({ msg: 'inside', service: 'log-test', request_id: 'req-1' });
    expect(outside).toMatchObject({ msg: 'outside' });
    expect(outside).not.toHaveProperty('request_id');
  });

  it('should write human-readable lines in the pretty format', () => {
    const out = capture();
    createLogger('log-test', 'info', 'pretty', out.stream).warn({ durable: 'feed-fanout' }, 'consumer slow');
    expect(out.text()).toMatch(/WARN.*consumer slow/);
    expect(out.text()).toContain('durable: "feed-fanout"');
    expect(out.text()).not.toContain('{"level"');
  });

  it('should keep a well-formed client request id and replace any other', () => {
    expect(requestIdOf({ 'x-request-id': 'abc.DEF_123-4' })).toBe('abc.DEF_123-4');
    const uuid = /^[0-9a-f-]{36}$/;
    for (const bad of ['', 'has space', 'x'.repeat(65), 'line\nbreak', '<script>', 'ünï']) {
      expect(requestIdOf({ 'x-request-id': bad })).toMatch(uuid);
    }
    expect(requestIdOf({})).toMatch(uuid);
  });

  it('should put the trace id of the active span on every line', async () => {
    const tracing = startInMemoryTracing();
    try {
      const out = capture();
      const logger = createLogger('log-test', 'info', 'json', out.stream);
      await withServerSpan('request', {}, {}, async () => logger.info('traced'));
      const line = JSON.parse(out.text()) as Record<string, unknown>;
      const [span] = tracing.spans();
      expect(line).toMatchObject({ msg: 'traced', trace_id: span!.traceId, span_id: span!.spanId });
    } finally {
      await tracing.stop();
    }
  });
});
