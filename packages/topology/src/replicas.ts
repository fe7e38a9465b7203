import { SERVICE_NAMES, type ServiceName } from './services.ts';

/** `--replicas` values: `N` for every service, `name=N` for one; later values win. */
export function parseReplicas(values: string[]): Partial<Record<ServiceName, number>> {
  const replicas: Partial<Record<ServiceName, number>> = {};
  const count = (raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--replicas: "${raw}" is not a positive integer`);
    return n;
  };
  for (const value of values) {
    const [name, raw] = value.includes('=') ? value.split('=', 2) : [undefined, value];
    if (name === undefined) {
      for (const service of SERVICE_NAMES) replicas[service] = count(raw!);
    } else if ((SERVICE_NAMES as readonly string[]).includes(name)) {
      replicas[name as ServiceName] = count(raw!);
    } else {
      throw new Error(`--replicas: unknown service "${name}" (one of ${SERVICE_NAMES.join(', ')})`);
    }
  }
  return replicas;
}
