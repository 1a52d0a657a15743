// The GraphQL input types (codegen), since the translation is the variable of the adapter's operation.

import { isRecord } from '../../type-guards.ts';
import type { FieldPredicate, MessageFilter } from '../gql/graphql.ts';

/**
 * The old service's filters, translated onto MessageFilter. Per top-level key of the message
 * data: a scalar is equality, a list is membership, `{"min": a, "max": b}` an inclusive range;
 * a message without the key is rejected (which MessageFilter does for every term).
 */
export type LegacyFilterTranslation =
  | { readonly ok: true; readonly filter: MessageFilter | null }
  | { readonly ok: false; readonly problem: string };

export function translateLegacyFilter(legacy: unknown, label = 'filters'): LegacyFilterTranslation {
  if (legacy === undefined || legacy === null) return { ok: true, filter: null };
  if (typeof legacy !== 'object' || Array.isArray(legacy)) {
    return { ok: false, problem: `${label} must be an object of field: value` };
  }
  const equals: Record<string, unknown> = {};
  const where: FieldPredicate[] = [];
  for (const [field, condition] of Object.entries(legacy)) {
    if (Array.isArray(condition)) {
      where.push({ field, in: condition });
    } else if (typeof condition === 'object' && condition !== null) {
      const keys = Object.keys(condition);
      const range = condition as Record<string, unknown>;
      const bounds = keys.filter((key) => key === 'min' || key === 'max');
      if (bounds.length === 0 || bounds.length !== keys.length) {
        return {
          ok: false,
          problem: `${label}.${field}: expected a value, a list of values or {"min": a, "max": b}`,
        };
      }
      for (const bound of bounds) {
        if (typeof range[bound] !== 'number' || !Number.isFinite(range[bound])) {
          return { ok: false, problem: `${label}.${field}.${bound} must be a number` };
        }
      }
      where.push({
        field,
        ...(range.min !== undefined ? { gte: range.min as number } : {}),
        ...(range.max !== undefined ? { lte: range.max as number } : {}),
      });
    } else {
      equals[field] = condition;
    }
  }
  const filter: MessageFilter = {
    ...(Object.keys(equals).length > 0 ? { equals } : {}),
    ...(where.length > 0 ? { where } : {}),
  };
  return { ok: true, filter: Object.keys(filter).length > 0 ? filter : null };
}

/**
 * `filters` of a subscribe is one filter for every topic, or, when every key is one of the
 * subscribed topic names, a filter per topic (topics not named get none).
 */
export function filtersPerTopic(topics: readonly string[], filters: unknown): Map<string, unknown> {
  const perTopic = new Map<string, unknown>();
  const keys = isRecord(filters) ? Object.keys(filters) : [];
  const keyedByTopic = keys.length > 0 && keys.every((key) => topics.includes(key));
  for (const topic of topics) {
    perTopic.set(topic, keyedByTopic ? (filters as Record<string, unknown>)[topic] : filters);
  }
  return perTopic;
}
