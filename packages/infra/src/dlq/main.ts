import { z } from 'zod';
import { connectNats, NatsEventBus } from '../bus/nats.ts';
import { deploymentPrefix, loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { DlqUsageError, runDlqCommand } from './dlq.command.ts';

const dlqEnvSchema = z.object({
  NATS_URL: z.string().regex(/^(nats|tls):\/\//, 'must be a nats:// URL'),
  DEPLOYMENT_PREFIX: deploymentPrefix(),
});

async function main() {
  const config = loadConfig(dlqEnvSchema);
  const nc = await connectNats(config.NATS_URL, 'dlq');
  const bus = new NatsEventBus(nc, config.DEPLOYMENT_PREFIX, createLogger('dlq', 'warn'));
  try {
    await runDlqCommand(process.argv.slice(2), bus, (line) => console.log(line));
  } finally {
    await bus.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = error instanceof DlqUsageError ? 2 : 1;
});
