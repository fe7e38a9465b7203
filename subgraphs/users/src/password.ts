import { hash, verify } from '@node-rs/argon2';

/**
 * Argon2id (the library's default algorithm) with OWASP's minimum parameters: 19 MiB memory, 2 passes,
 * 1 lane. `verify` reads the parameters from the stored hash, so raising them later keeps old hashes valid.
 */
const PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

export const hashPassword = (password: string) => hash(password, PARAMS);

export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

/** A real hash of a random password, verified against for unknown logins so both paths cost the same. */
export const dummyHash = hashPassword(crypto.randomUUID());
