import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './node.ts';
import './connection.ts';
import './health.ts';
import './viewer.ts';
import './server-time.ts';
import './publish-result.ts';
import './topics.ts';
import './routes.ts';
import './states.ts';
import './devices.ts';
import './data-sources.ts';

/** The executable schema of streamgate: one file per domain, imported above. */
export const schema = withoutEmptyRootTypes(builder.toSchema({ sortSchema: false }));

/**
 * builder.ts declares every root type so that any domain file can add fields; a root type that
 * no domain has filled yet would make the schema invalid, so it is left out until it has one.
 */
function withoutEmptyRootTypes(built: GraphQLSchema): GraphQLSchema {
  const config = built.toConfig();
  const isEmpty = (type: GraphQLSchema['_mutationType']) =>
    !type || Object.keys(type.getFields()).length === 0;
  const drop = [config.mutation, config.subscription].filter((type) => type && isEmpty(type));
  if (drop.length === 0) return built;
  return new GraphQLSchema({
    ...config,
    mutation: isEmpty(config.mutation) ? undefined : config.mutation,
    subscription: isEmpty(config.subscription) ? undefined : config.subscription,
    types: config.types.filter((type) => !drop.includes(type as never)),
  });
}

/** The schema as SDL, sorted so that the committed schema.graphql diffs cleanly. */
export function printStreamgateSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
