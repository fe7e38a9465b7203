import { CallPolicy, type Logger } from '@insta/infra';
import type { GatewayConfig } from '../config.ts';

/** The breaker, timeout and retries of the gateway's calls to one subgraph, from the gateway's settings. */
export const subgraphPolicy = (config: GatewayConfig, name: string, logger: Logger) =>
  new CallPolicy(
    name,
    {
      timeoutMs: config.SUBGRAPH_TIMEOUTS[name] ?? config.SUBGRAPH_TIMEOUT_MS,
      retries: config.SUBGRAPH_RETRIES,
      breakerThreshold: config.BREAKER_THRESHOLD,
      breakerHalfOpenAfterMs: config.BREAKER_HALF_OPEN_AFTER_MS,
    },
    logger,
  );
