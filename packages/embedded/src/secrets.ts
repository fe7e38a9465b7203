import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Secrets {
  JWT_SECRET: string;
  GATEWAY_SIGNING_SECRET: string;
}

/**
 * Secrets from the environment, or else generated once and kept in the data folder, so tokens issued before a
 * restart stay valid. Distributed deployments must set both variables.
 */
export async function loadOrCreateSecrets(dataDir: string, env: NodeJS.ProcessEnv): Promise<Secrets> {
  const file = join(dataDir, 'secrets.json');
  let stored: Partial<Secrets> = {};
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<Secrets>;
  } catch {
    stored = {};
  }
  const secrets: Secrets = {
    JWT_SECRET: env.JWT_SECRET || stored.JWT_SECRET || randomBytes(32).toString('base64url'),
    GATEWAY_SIGNING_SECRET:
      env.GATEWAY_SIGNING_SECRET || stored.GATEWAY_SIGNING_SECRET || randomBytes(32).toString('base64url'),
  };
  if (secrets.JWT_SECRET !== stored.JWT_SECRET || secrets.GATEWAY_SIGNING_SECRET !== stored.GATEWAY_SIGNING_SECRET) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(secrets), { mode: 0o600 });
  }
  return secrets;
}
