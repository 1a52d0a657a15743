import type { DocumentNode } from 'graphql';
import { rootFieldNames, selectedOperation } from '../auth/root-fields.ts';

/**
 * The subscription's root field (a subscription selects exactly one): the `root_field` label of
 * the open_subscriptions gauge, set by each transport when a subscription starts.
 */
export function rootFieldOf(document: DocumentNode, operationName: string | null | undefined): string {
  const operation = selectedOperation(document, operationName);
  const [first] = operation ? rootFieldNames(document, operation) : [];
  return first ?? 'unknown';
}
