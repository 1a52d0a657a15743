import { type ASTNode, Kind, type ValueNode } from 'graphql';
import { DURATION_FORMS, formatDuration, parseDuration } from '../config/duration.ts';
import { JsonText } from '../domain/json-text.ts';
import { BadUserInputError } from '../errors.ts';
import { isRecord } from '../type-guards.ts';
import { builder } from './builder.ts';

/** A JSON value written inline in a document, turned into its JS value. */
function literalToJson(node: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((value) => literalToJson(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(
        node.fields.map((field) => [field.name.value, literalToJson(field.value, variables)]),
      );
    case Kind.VARIABLE:
      return variables?.[node.name.value];
    case Kind.ENUM:
      return node.value;
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The JSON scalar's name: a value of this type that is a JsonText may be sent as its text. */
export const JSON_SCALAR = 'JSON';

builder.scalarType(JSON_SCALAR, {
  description: 'Any JSON value.',
  // Stored JSON read as text (replay) is parsed only where the executor serializes it.
  serialize: (value) => (value instanceof JsonText ? value.value() : value),
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalToJson(node, variables),
});

function parseJsonObject(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) throw new BadUserInputError(`expected a JSON object, got ${describe(value)}`);
  return value;
}

builder.scalarType('JSONObject', {
  description: 'A JSON object.',
  serialize: (value) => parseJsonObject(value),
  parseValue: parseJsonObject,
  parseLiteral: (node, variables) => parseJsonObject(literalToJson(node, variables)),
});

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' && ISO_DATE_TIME.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new BadUserInputError(
      `expected an ISO-8601 date-time such as 2026-01-15T10:30:00.000Z, got ${describe(value)}`,
    );
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'ISO-8601 date-time in UTC, e.g. 2026-01-15T10:30:00.000Z.',
  serialize: (value) => (value instanceof Date ? value : new Date(value)).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node: ASTNode) => parseDateTime(node.kind === Kind.STRING ? node.value : undefined),
});

function parseDurationValue(value: unknown): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined)
    throw new BadUserInputError(`expected a duration such as ${DURATION_FORMS}, got ${describe(value)}`);
  return ms;
}

builder.scalarType('Duration', {
  description:
    'A duration. Accepts "1500ms", "90s", "5m", "24h", "7d" or ISO-8601 ("PT5M"); returned as ISO-8601.',
  serialize: (value) => formatDuration(value),
  parseValue: parseDurationValue,
  parseLiteral: (node: ASTNode) => parseDurationValue(node.kind === Kind.STRING ? node.value : undefined),
});
