import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const offlineEnginePath = fileURLToPath(new URL('../offline-engine/schema-engine.mjs', import.meta.url));

/**
 * PRISMA_OFFLINE=1 forces the Wasm-based offline schema engine, PRISMA_OFFLINE=0 the native binary; when unset, the
 * native binary is used if @prisma/engines has already downloaded it.
 */
export function shouldUseOfflineEngine(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.PRISMA_OFFLINE === '1') return true;
  if (env.PRISMA_OFFLINE === '0') return false;
  return !nativeEngineInstalled();
}

/**
 * Points the Prisma CLI at the offline engine (via PRISMA_SCHEMA_ENGINE_BINARY) when it should be used, or away from
 * it when an inherited environment chose it but PRISMA_OFFLINE=0. Call before the CLI needs the engine.
 */
export function useOfflineEngineIfNeeded(env: NodeJS.ProcessEnv = process.env): void {
  if (shouldUseOfflineEngine(env)) env.PRISMA_SCHEMA_ENGINE_BINARY = offlineEnginePath;
  else if (env.PRISMA_SCHEMA_ENGINE_BINARY === offlineEnginePath) delete env.PRISMA_SCHEMA_ENGINE_BINARY;
}

function nativeEngineInstalled(): boolean {
  const enginesDir = dirname(createRequire(import.meta.url).resolve('@prisma/engines/package.json'));
  return readdirSync(enginesDir).some((name) => name.startsWith('schema-engine-') && !/\.(sha256|gz)$/.test(name));
}
