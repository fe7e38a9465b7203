import { createLogger, DEFAULT_SHUTDOWN_GRACE_MS, loadConfig, onShutdown, runMain, startTracing } from '@insta/infra';
import { videoToolsAdvice } from '@insta/media';
import { formatSummary, runSeed } from './demo/main.ts';
import { embeddedEnvSchema, startSystem } from './system.ts';

/**
 * The demo seed signs up a few hundred accounts from this one machine, far past the per-address sign-up limit
 * (RATE_LIMIT_AUTH, 20 a minute): with `--demo` that limit is raised unless it is set.
 */
const DEMO_AUTH_LIMIT = '5000/60';

runMain(async () => {
  const demo = process.argv.includes('--demo');
  const env = demo ? { RATE_LIMIT_AUTH: DEMO_AUTH_LIMIT, ...process.env } : process.env;
  const { LOG_LEVEL } = loadConfig(embeddedEnvSchema);
  const logger = createLogger('insta', LOG_LEVEL);
  const tracing = startTracing('insta');
  const system = await startSystem({ env, logger });
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
  if (demo) console.log(formatSummary(await runSeed(process.env, system.gatewayUrl), system.webAppUrl));
});
