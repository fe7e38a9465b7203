import { createLogger, DEFAULT_SHUTDOWN_GRACE_MS, loadConfig, onShutdown, runMain, startTracing } from '@insta/infra';
import { videoToolsAdvice } from '@insta/media';
import { formatSummary, runSeed } from './demo/main.ts';
import { embeddedEnvSchema, startSystem } from './system.ts';

runMain(async () => {
  const { LOG_LEVEL } = loadConfig(embeddedEnvSchema);
  const logger = createLogger('insta', LOG_LEVEL);
  const tracing = startTracing('insta');
  const system = await startSystem({ env: process.env, logger });
  onShutdown(logger, DEFAULT_SHUTDOWN_GRACE_MS, async () => {
    await system.stop();
    await tracing?.shutdown();
  });
  logger.info({ backends: system.backends }, 'backing services');
  if (!system.videoProcessing.available)
    console.warn(`\n${videoToolsAdvice(system.videoProcessing).replace(/^/gm, '  ')}`);
  console.log(`\n  GraphQL API and explorer: ${system.gatewayUrl}`);
  if (system.webAppUrl) console.log(`  Web client:               ${system.webAppUrl}`);
  console.log('');
  // `npm start -- --demo`: demo data through the API just started (idempotent, so every start may ask for it).
  if (process.argv.includes('--demo'))
    console.log(formatSummary(await runSeed(process.env, system.gatewayUrl), system.webAppUrl));
});
