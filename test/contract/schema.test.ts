import { readFile } from 'node:fs/promises';
import {
  BreakingChangeType,
  buildSchema,
  DangerousChangeType,
  findBreakingChanges,
  findDangerousChanges,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { printStreamgateSchema, schema } from '../../src/schema/index.ts';
import { PENDING_CONTRACT_CHANGES } from './pending-contract.ts';

// CI clones the repo with shared/ beside it; STREAMGATE_CONTRACT lets a checkout elsewhere point at it.
const contractPath =
  process.env.STREAMGATE_CONTRACT ?? new URL('../../../shared/contract/schema.graphql', import.meta.url);

describe('schema.graphql', () => {
  it('is the schema the server prints (run `npm run codegen` after a schema change)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printStreamgateSchema());
  });

  it('keeps the public contract, except for the entries still pending', async () => {
    const contract = buildSchema(await readFile(contractPath, 'utf8'));
    const breaking = findBreakingChanges(contract, schema).map((change) => change.description);
    const changedDefaults = findDangerousChanges(contract, schema)
      .filter((change) => change.type === DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE)
      .map((change) => change.description);
    const differences = [...breaking, ...changedDefaults];

    const unexpected = differences.filter((description) => !PENDING_CONTRACT_CHANGES.includes(description));
    expect(unexpected, 'the printed schema breaks the contract').toEqual([]);

    const alreadyBuilt = PENDING_CONTRACT_CHANGES.filter((description) => !differences.includes(description));
    expect(alreadyBuilt, 'built now: remove these from test/contract/pending-contract.ts').toEqual([]);
  });

  it('detects a removed contract field (the check can fail)', () => {
    const contract = buildSchema('type Query { health: String, gone: String }');
    const printed = buildSchema('type Query { health: String }');
    expect(findBreakingChanges(contract, printed)).toEqual([
      { type: BreakingChangeType.FIELD_REMOVED, description: 'Query.gone was removed.' },
    ]);
  });
});
