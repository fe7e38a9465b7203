import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed operations (client preset) from the API schema (scripts/api-schema.ts) and the `graphql()` calls in src/.
const config: CodegenConfig = {
  schema: 'src/generated/schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/generated/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/generated/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: 'string' },
        enumsAsTypes: true,
        nonOptionalTypename: true,
        useTypeImports: true,
        avoidOptionals: { field: true, inputValue: false },
        maybeValue: 'T | null',
        inputMaybeValue: 'T | null | undefined',
      },
    },
  },
};
export default config;
