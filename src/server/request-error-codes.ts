import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES } from '../errors.ts';

/** Why a document was refused before execution, in `extensions.reason` beside BAD_USER_INPUT. */
export const REQUEST_ERROR_REASONS = {
  PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
} as const;

/**
 * One code for a document the schema refuses, whatever carried it (DESIGN.md decision 6): yoga
 * marks HTTP and SSE requests GRAPHQL_VALIDATION_FAILED / GRAPHQL_PARSE_FAILED, graphql-ws had
 * BAD_USER_INPUT. Every transport now answers BAD_USER_INPUT with yoga's name kept as
 * `extensions.reason`. Runs after yoga's own hooks (user plugins come last), so its code is
 * replaced, not kept; yoga's HTTP status for it (400, only for graphql-response+json) stays.
 */
export function useOneRequestErrorCode(): Plugin {
  const mark = (error: GraphQLError, reason: string) => {
    const extensions = error.extensions as Record<string, unknown>;
    // Our own rules (depth, cost, introspection) already carry their code; keep it.
    if (extensions.code !== undefined && extensions.code !== reason) return;
    extensions.code = ERROR_CODES.BAD_USER_INPUT;
    extensions.reason = reason;
  };
  return {
    onParse() {
      return ({ result }) => {
        if (result instanceof GraphQLError) mark(result, REQUEST_ERROR_REASONS.PARSE_FAILED);
      };
    },
    onValidate() {
      return ({ valid, result }) => {
        if (valid) return;
        for (const error of result) mark(error, REQUEST_ERROR_REASONS.VALIDATION_FAILED);
      };
    },
  };
}
