import { BadUserInputError } from '../../errors.ts';
import { isRecord } from '../../type-guards.ts';
import { MISSING, parsePath, resolvePath } from './field-path.ts';
import { jsonEquals } from './json-equality.ts';

/** The operators of a FieldPredicate, in the order the contract lists them. */
export const PREDICATE_OPERATORS = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'exists', 'prefix'] as const;
export type PredicateOperator = (typeof PREDICATE_OPERATORS)[number];

/** MessageFilter as the API takes it (GraphQL input, or translated from a legacy filter). */
export interface MessageFilterInput {
  readonly equals?: Readonly<Record<string, unknown>> | null;
  readonly where?: readonly FieldPredicateInput[] | null;
}

export interface FieldPredicateInput {
  readonly field: string;
  readonly eq?: unknown;
  readonly ne?: unknown;
  readonly in?: readonly unknown[] | null;
  readonly gt?: number | null;
  readonly gte?: number | null;
  readonly lt?: number | null;
  readonly lte?: number | null;
  readonly exists?: boolean | null;
  readonly prefix?: string | null;
}

/** One condition on one field. */
export type FilterTerm =
  | { readonly op: 'eq'; readonly path: readonly string[]; readonly field: string; readonly value: unknown }
  | { readonly op: 'ne'; readonly path: readonly string[]; readonly field: string; readonly value: unknown }
  | {
      readonly op: 'in';
      readonly path: readonly string[];
      readonly field: string;
      readonly values: readonly unknown[];
    }
  | {
      readonly op: 'gt' | 'gte' | 'lt' | 'lte';
      readonly path: readonly string[];
      readonly field: string;
      readonly bound: number;
    }
  | {
      readonly op: 'exists';
      readonly path: readonly string[];
      readonly field: string;
      readonly present: boolean;
    }
  | {
      readonly op: 'prefix';
      readonly path: readonly string[];
      readonly field: string;
      readonly prefix: string;
    };

/** A validated filter: terms that must all hold. An empty list lets everything through. */
export interface CompiledFilter {
  readonly terms: readonly FilterTerm[];
}

export const MATCH_ALL: CompiledFilter = { terms: [] };

/**
 * Checks a MessageFilter and turns it into terms. Input is `unknown` because legacy clients
 * reach here through a translation too; every problem is BAD_USER_INPUT naming the field.
 */
export function compileFilter(input: unknown, maxTerms: number): CompiledFilter {
  if (input === undefined || input === null) return MATCH_ALL;
  if (!isRecord(input)) throw new BadUserInputError('filter must be an object with "equals" and/or "where"');
  for (const key of Object.keys(input)) {
    if (key !== 'equals' && key !== 'where') {
      throw new BadUserInputError(`filter: unknown key "${key}" (use "equals" and "where")`);
    }
  }
  const terms: FilterTerm[] = [];
  const { equals, where } = input;
  if (equals !== undefined && equals !== null) {
    if (!isRecord(equals)) throw new BadUserInputError('filter.equals must be an object of field: value');
    for (const [field, value] of Object.entries(equals)) {
      terms.push({ op: 'eq', field, path: pathOf(field, 'filter.equals'), value });
    }
  }
  if (where !== undefined && where !== null) {
    if (!Array.isArray(where)) throw new BadUserInputError('filter.where must be a list of predicates');
    where.forEach((predicate: unknown, index: number) => {
      terms.push(...compilePredicate(predicate, `filter.where[${index}]`));
    });
  }
  if (terms.length > maxTerms) {
    throw new BadUserInputError(
      `filter has ${terms.length} conditions; at most ${maxTerms} are allowed (FILTER_MAX_TERMS)`,
      { details: { maxTerms } },
    );
  }
  return { terms };
}

function compilePredicate(predicate: unknown, where: string): FilterTerm[] {
  if (!isRecord(predicate))
    throw new BadUserInputError(`${where} must be an object with "field" and operators`);
  const { field } = predicate;
  if (typeof field !== 'string') throw new BadUserInputError(`${where}.field must be a dotted path`);
  const path = pathOf(field, where);
  const terms: FilterTerm[] = [];
  for (const [key, operand] of Object.entries(predicate)) {
    if (key === 'field') continue;
    if (!(PREDICATE_OPERATORS as readonly string[]).includes(key)) {
      throw new BadUserInputError(
        `${where}: unknown operator "${key}" (known: ${PREDICATE_OPERATORS.join(', ')})`,
      );
    }
    const op = key as PredicateOperator;
    // GraphQL passes an operator given as null through; only eq and ne compare with null.
    if (operand === undefined || (operand === null && op !== 'eq' && op !== 'ne')) continue;
    switch (op) {
      case 'eq':
        terms.push({ op, field, path, value: operand });
        break;
      case 'ne':
        terms.push({ op, field, path, value: operand });
        break;
      case 'in':
        if (!Array.isArray(operand)) throw new BadUserInputError(`${where}.in must be a list of values`);
        terms.push({ op, field, path, values: operand });
        break;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (typeof operand !== 'number' || !Number.isFinite(operand)) {
          throw new BadUserInputError(`${where}.${op} must be a number, got ${JSON.stringify(operand)}`);
        }
        terms.push({ op, field, path, bound: operand });
        break;
      case 'exists':
        if (typeof operand !== 'boolean')
          throw new BadUserInputError(`${where}.exists must be true or false`);
        terms.push({ op, field, path, present: operand });
        break;
      case 'prefix':
        if (typeof operand !== 'string') throw new BadUserInputError(`${where}.prefix must be text`);
        terms.push({ op, field, path, prefix: operand });
        break;
    }
  }
  if (terms.length === 0) {
    throw new BadUserInputError(
      `${where} (field "${field}") has no operator; give one of ${PREDICATE_OPERATORS.join(', ')}`,
    );
  }
  return terms;
}

function pathOf(field: string, where: string): readonly string[] {
  const parsed = parsePath(field);
  if ('problem' in parsed) throw new BadUserInputError(`${where}: ${parsed.problem}`);
  return parsed.segments;
}

/** True when every term holds for the message data. A term on a missing field is false, except `exists: false`. */
export function matchesFilter(filter: CompiledFilter, data: unknown): boolean {
  for (const term of filter.terms) if (!matchesTerm(term, data)) return false;
  return true;
}

export function matchesTerm(term: FilterTerm, data: unknown): boolean {
  const value = resolvePath(data, term.path);
  if (value === MISSING) return term.op === 'exists' && !term.present;
  switch (term.op) {
    case 'eq':
      return jsonEquals(value, term.value);
    case 'ne':
      return !jsonEquals(value, term.value);
    case 'in':
      return term.values.some((candidate) => jsonEquals(value, candidate));
    case 'gt':
      return typeof value === 'number' && value > term.bound;
    case 'gte':
      return typeof value === 'number' && value >= term.bound;
    case 'lt':
      return typeof value === 'number' && value < term.bound;
    case 'lte':
      return typeof value === 'number' && value <= term.bound;
    case 'exists':
      return term.present;
    case 'prefix':
      return typeof value === 'string' && value.startsWith(term.prefix);
  }
}
