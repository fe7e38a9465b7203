import { createRequire } from 'node:module';

/**
 * The graphql-js instance that @apollo/gateway, @apollo/subgraph and graphql-ws use. Node resolves `graphql` to
 * its CommonJS build for all of them, but Vite (vitest) gives this ESM source the `.mjs` build: a second copy
 * whose classes fail graphql-js' realm checks against the schemas and errors those libraries make. Code that
 * validates, executes or makes errors for them uses this instance.
 */
export const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');
