import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { ExecutionResult } from 'graphql';
import type { OperationRequest } from './operation-runner.ts';

/**
 * The adapters' own operations are codegen-typed (src/server/gql, `npm run codegen`): their
 * variables are checked where the request is built, and their data is read through the result
 * type codegen derived from the document, in this one place rather than by casts in each adapter.
 */
export function typedRequest<Result, Variables extends Record<string, unknown>>(
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): OperationRequest {
  return { query: document, variables };
}

/** The data of a result of `document` (null or undefined when it failed). */
export function dataOf<Result, Variables>(
  _document: TypedDocumentNode<Result, Variables>,
  result: ExecutionResult,
): Result | null | undefined {
  return result.data as Result | null | undefined;
}
