import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../../config/limits.ts';
import { createKeyedTokenBuckets } from '../../domain/limits/token-bucket.ts';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import { tenantOf } from '../../domain/viewer.ts';
import { ERROR_CODES, PayloadTooLargeError, RateLimitedError } from '../../errors.ts';
import { limitRefusals, type Metrics } from '../../metrics.ts';
import { withHttpStatus } from '../auth/http-error.ts';
import { selectedOperation } from '../auth/root-fields.ts';
import { maxAliasesRule, maxCostRule, maxDepthRule, noIntrospectionRule } from './document-rules.ts';

// Defined beside the registry so that the domain (the topic buffer) counts into it too.
export { limitRefusals };

/** graphql-js's message when `maxTokens` stops the parser (16.x spells it "more that"). */
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens/;

/**
 * What one document may be: MAX_DOCUMENT_BYTES (PAYLOAD_TOO_LARGE before parsing), depth,
 * aliases and estimated cost (LIMIT_EXCEEDED at validation), and no introspection when
 * INTROSPECTION=false. Every transport parses and validates through here.
 */
export function useDocumentLimits(limits: LimitsConfig, metrics: Metrics): Plugin {
  const refusals = limitRefusals(metrics);
  const rules = [
    maxDepthRule(limits.maxDepth),
    maxAliasesRule(limits.maxAliases),
    maxCostRule(limits.maxCost),
    ...(limits.introspection ? [] : [noIntrospectionRule]),
  ];
  return {
    onParse({ params, parseFn, setParseFn }) {
      // graphql-js stops lexing past maxTokens, so nesting (two or three tokens a level) stays far
      // below what overflows the parser's recursion, whatever the document.
      setParseFn((source, options) => {
        try {
          return parseFn(source, { ...options, maxTokens: limits.maxDocumentTokens });
        } catch (error) {
          if (!(error instanceof GraphQLError) || !TOKEN_LIMIT_MESSAGE.test(error.message)) throw error;
          refusals.inc({ limit: 'MAX_DOCUMENT_TOKENS' });
          throw new GraphQLError(
            `the document has more than ${limits.maxDocumentTokens} tokens (MAX_DOCUMENT_TOKENS)`,
            {
              extensions: {
                code: ERROR_CODES.LIMIT_EXCEEDED,
                limit: 'MAX_DOCUMENT_TOKENS',
                http: { status: 400 },
              },
            },
          );
        }
      });
      const source: unknown = params.source;
      const text = typeof source === 'string' ? source : (source as { body?: unknown } | null)?.body;
      if (typeof text === 'string' && Buffer.byteLength(text) > limits.maxDocumentBytes) {
        refusals.inc({ limit: 'MAX_DOCUMENT_BYTES' });
        throw withHttpStatus(
          new PayloadTooLargeError(
            `the document is ${Buffer.byteLength(text)} bytes; at most ${limits.maxDocumentBytes} are allowed (MAX_DOCUMENT_BYTES)`,
          ),
        );
      }
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
      return ({ result }) => {
        for (const error of result) {
          const limit = error.extensions?.limit;
          if (typeof limit === 'string') refusals.inc({ limit });
        }
      };
    },
  };
}

/** Mutations per user per second (MUTATION_RATE, MUTATION_BURST): RATE_LIMITED (HTTP 429) past it. */
export function useMutationRateLimit(limits: LimitsConfig, metrics: Metrics): Plugin<GraphQLContext> {
  const refusals = limitRefusals(metrics);
  const buckets = createKeyedTokenBuckets({
    ratePerSecond: limits.mutationRate,
    burst: limits.mutationBurst,
  });
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const viewer = (args.contextValue as GraphQLContext).viewer;
      // Anonymous callers exist only in dev mode and with AUTH_DISABLED; they have no key.
      if (!viewer) return;
      if (selectedOperation(args.document, args.operationName)?.operation !== 'mutation') return;
      if (buckets.take(`${tenantOf(viewer) ?? ''}\u0000${viewer.userId}`)) return;
      refusals.inc({ limit: 'MUTATION_RATE' });
      setResultAndStopExecution({
        errors: [
          withHttpStatus(
            new RateLimitedError(
              `more than ${limits.mutationRate} mutations per second (burst ${limits.mutationBurst}); slow down`,
            ),
          ),
        ],
      });
    },
  };
}
