import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Resolver types for one subgraph, generated from its SDL in schema/<name>.graphql. `mappers` map GraphQL
 * types to the records the subgraph's repositories return (paths relative to src/generated/).
 */
export function subgraphCodegen(name: string, mappers: Record<string, string> = {}): CodegenConfig {
  return {
    schema: `../../schema/${name}.graphql`,
    generates: {
      'src/generated/graphql.ts': {
        plugins: ['typescript', 'typescript-resolvers'],
        config: {
          federation: true,
          useTypeImports: true,
          useIndexSignature: true,
          contextType: '../context.ts#Context',
          mappers,
          scalars: { DateTime: { input: 'string', output: 'Date | string' } },
          enumsAsTypes: true,
          avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
          maybeValue: 'T | null',
          inputMaybeValue: 'T | null | undefined',
        },
      },
    },
  };
}
