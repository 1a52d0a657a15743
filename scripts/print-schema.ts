/** Writes schema.graphql from the Pothos schema (npm run codegen runs this first). */
import { writeFile } from 'node:fs/promises';
import { printStreamgateSchema } from '../src/schema/index.ts';

await writeFile(new URL('../schema.graphql', import.meta.url), printStreamgateSchema());
console.log('wrote schema.graphql');
