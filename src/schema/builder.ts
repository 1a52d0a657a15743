import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from '../domain/resolver-context.ts';

/** The one Pothos builder: context, scalars and defaults for every domain file. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
  Scalars: {
    ID: { Input: string; Output: string };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    DateTime: { Input: Date; Output: Date | string };
    /** Milliseconds inside, ISO-8601 outside. */
    Duration: { Input: number; Output: number };
  };
}>({
  defaultFieldNullability: false,
});

/** The builder's resolved type parameters, for helpers that take refs of this schema. */
export type SchemaTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
