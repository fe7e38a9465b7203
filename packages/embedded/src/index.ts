import { createLogger, DEFAULT_SHUTDOWN_GRACE_MS, loadConfig, onShutdown, runMain } from '@insta/infra';
import { embeddedEnvSchema, startSystem } from './system.ts';

runMain(async () => {
  const { LOG_LEVEL } = loadConfig(embeddedEnvSchema);
  const logger = createLogger('insta', LOG_LEVEL);
  const system = await startSystem({ env: process.env, logger });
  onShutdown(logger, DEFAULT_SHUTDOWN_GRACE_MS, system.stop);
  logger.info({ backends: system.backends }, 'backing services');
  console.log(`\n  GraphQL API and explorer: ${system.gatewayUrl}\n`);
});
