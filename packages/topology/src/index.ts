export { buildServices, bundlePath, bundlesOutdated, ensureBuilt, DIST_DIR, REPO_ROOT } from './build.ts';
export { haproxyConfig, HAPROXY_PATH, type BalancedService } from './haproxy.ts';
export {
  ManagedProcess,
  PRODUCTION_NODE_FLAGS,
  serviceCommand,
  type Instance,
  type ManagedProcessOptions,
  type Runtime,
} from './process.ts';
export { ENTRY_POINTS, SERVICE_NAMES, type ServiceName } from './services.ts';
export { startTopology, type S3Settings, type Topology, type TopologyOptions } from './topology.ts';
export { freePort, waitFor } from './wait.ts';
export { parseReplicas } from './replicas.ts';
