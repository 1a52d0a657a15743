import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../log.ts';

/**
 * Logs a document that fails validation once, at info with its code: the client's mistake. These
 * errors never reach the masker (error-masking.ts), which logs every other failure.
 */
export function useValidationLog(log: Logger): Plugin {
  return {
    onValidate() {
      return ({ result }) => {
        for (const error of result) {
          const code =
            typeof error.extensions.code === 'string' ? error.extensions.code : 'GRAPHQL_VALIDATION_FAILED';
          log.info({ code }, error.message);
        }
      };
    },
  };
}
