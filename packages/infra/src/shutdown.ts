import type { Logger } from './logger.ts';

/**
 * Runs `stop` once on SIGTERM/SIGINT and exits; a second signal, or a stop that outlives the grace period,
 * exits at once with a non-zero code.
 */
export function onShutdown(logger: Logger, graceMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'draining');
    const timer = setTimeout(() => {
      logger.error('drain timed out');
      process.exit(1);
    }, graceMs + 1_000);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** The process entry point shape: run `main`, exit(1) with a logged reason if it fails. */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
