import type { Logger } from './logger.ts';

/**
 * Default SHUTDOWN_GRACE_MS: the whole stop of a process on SIGTERM, after which it exits(1) regardless. Below
 * Docker's default 10-s stop timeout, and compose gives every service a stop_grace_period of 15 s on top.
 */
export const DEFAULT_SHUTDOWN_GRACE_MS = 8_000;

/**
 * Share of the grace in-flight HTTP requests get before their connections are cut; the rest (up to 2 s) is for
 * what comes after them: stopping consumers and relays, draining NATS, quitting Redis, closing the Postgres pool.
 */
export const httpDrainMs = (graceMs: number) => graceMs - Math.min(2_000, Math.floor(graceMs / 4));

/**
 * Runs `stop` once on SIGTERM/SIGINT and exits 0 when it finishes; a second signal, a failed stop, or a stop still
 * running when `graceMs` is up exits at once with 1.
 */
export function onShutdown(logger: Logger, graceMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal, graceMs }, 'draining');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'drain timed out');
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
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
