import { lexicographicSortSchema, printSchema } from 'graphql';
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
export const schema = builder.toSchema({ sortSchema: false });

/** The schema as SDL, sorted so that the committed schema.graphql diffs cleanly. */
export function printStreamgateSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
