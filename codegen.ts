import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen` first prints schema.graphql from the Pothos schema (scripts/print-schema.ts),
 * then generates typed documents for the CLI from the operations written in src/cli.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/cli/**/*.ts', '!src/cli/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'src/cli/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents are strings with their types attached: the CLI sends them as text and never
        // loads graphql-js (a faster start, and no second copy of graphql next to the server's).
        documentMode: 'string',
        emitLegacyCommonJSImports: false,
        useTypeImports: true,
        scalars: {
          DateTime: 'string',
          Duration: 'string',
          JSON: 'unknown',
          JSONObject: 'Record<string, unknown>',
        },
      },
    },
  },
};

export default config;
