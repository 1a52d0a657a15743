import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen` first prints schema.graphql from the Pothos schema (scripts/print-schema.ts),
 * then generates typed documents for the CLI from the operations written in src/cli, and for the
 * legacy adapters from the operations they translate to (src/server/legacy-*, documents.ts).
 */
const scalars = {
  DateTime: 'string',
  Duration: 'string',
  JSON: 'unknown',
  JSONObject: 'Record<string, unknown>',
};

const config: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: true,
  generates: {
    'src/cli/gql/': {
      documents: ['src/cli/**/*.ts', '!src/cli/gql/**'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents are strings with their types attached: the CLI sends them as text and never
        // loads graphql-js (a faster start, and no second copy of graphql next to the server's).
        documentMode: 'string',
        emitLegacyCommonJSImports: false,
        useTypeImports: true,
        scalars,
      },
    },
    'src/server/gql/': {
      documents: ['src/server/legacy-*/documents.ts'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Parsed documents (TypedDocumentNode) with their types attached: the execution seam runs
        // them as they are, validated here against schema.graphql instead of per subscribe.
        emitLegacyCommonJSImports: false,
        useTypeImports: true,
        scalars,
      },
    },
  },
};

export default config;
