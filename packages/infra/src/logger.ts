import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { currentLogContext } from './log-context.ts';

export type { Logger };

/** Extra fields of every line: the request id of the request being handled (log-context.ts), if any. */
const logMixins: (() => Record<string, unknown>)[] = [() => ({ ...currentLogContext() })];

/** Adds fields to every log line of every logger (the tracing module adds `trace_id`). */
export function addLogMixin(mixin: () => Record<string, unknown>): void {
  logMixins.push(mixin);
}

export type LogFormat = 'json' | 'pretty';

/** Human-readable lines in a terminal, JSON (one object a line, for collectors) everywhere else. */
export const defaultLogFormat = (): LogFormat => (process.stdout.isTTY ? 'pretty' : 'json');

/** `destination` defaults to stdout; tests pass a stream of their own. */
export function createLogger(
  service: string,
  level: string,
  format: LogFormat = defaultLogFormat(),
  destination?: NodeJS.WritableStream,
): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    mixin: () => Object.assign({}, ...logMixins.map((mixin) => mixin())) as Record<string, unknown>,
  };
  if (format === 'json') return destination ? pino(options, destination as DestinationStream) : pino(options);
  // Synchronous on the main thread (no transport worker): a terminal is one reader at human speed.
  const stream: DestinationStream = pretty({
    colorize: !destination,
    sync: true,
    ignore: 'pid,hostname,service',
    ...(destination ? { destination } : {}),
  });
  return pino(options, stream);
}
