import { readFile } from 'node:fs/promises';
import {
  BreakingChangeType,
  buildSchema,
  DangerousChangeType,
  findBreakingChanges,
  findDangerousChanges,
  type GraphQLSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { printStreamgateSchema, schema } from '../../src/schema/index.ts';

// Everything the check needs is inside the repository, so a plain clone runs it.
const releasedPath = new URL('../../contract/released-schema.graphql', import.meta.url);
const recordedPath = new URL('../../contract/recorded-changes.json', import.meta.url);

interface RecordedChange {
  readonly description: string;
  readonly reason: string;
}

async function recordedChanges(): Promise<readonly RecordedChange[]> {
  const parsed = JSON.parse(await readFile(recordedPath, 'utf8')) as { changes?: unknown };
  if (!Array.isArray(parsed.changes))
    throw new Error('contract/recorded-changes.json: "changes" must be an array');
  for (const change of parsed.changes as unknown[]) {
    const entry = change as Partial<RecordedChange> | null;
    if (typeof entry?.description !== 'string' || typeof entry.reason !== 'string' || entry.reason === '') {
      throw new Error(
        `contract/recorded-changes.json: each change needs a "description" and a non-empty "reason": ${JSON.stringify(change)}`,
      );
    }
  }
  return parsed.changes as RecordedChange[];
}

/** Breaking changes plus changed argument defaults (a client relying on a default breaks too). */
function contractDifferences(released: GraphQLSchema, printed: GraphQLSchema): string[] {
  const breaking = findBreakingChanges(released, printed).map((change) => change.description);
  const changedDefaults = findDangerousChanges(released, printed)
    .filter((change) => change.type === DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE)
    .map((change) => change.description);
  return [...breaking, ...changedDefaults];
}

describe('schema.graphql', () => {
  it('is the schema the server prints (run `npm run codegen` after a schema change)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printStreamgateSchema());
  });

  it('keeps the released contract, except for the changes recorded since', async () => {
    const released = buildSchema(await readFile(releasedPath, 'utf8'));
    const differences = contractDifferences(released, schema);
    const recorded = (await recordedChanges()).map((change) => change.description);

    const unrecorded = differences.filter((description) => !recorded.includes(description));
    expect(
      unrecorded,
      'the printed schema breaks contract/released-schema.graphql: undo it, or record it in contract/recorded-changes.json',
    ).toEqual([]);

    const stale = recorded.filter((description) => !differences.includes(description));
    expect(stale, 'no longer reported: remove these from contract/recorded-changes.json').toEqual([]);
  });

  it('detects a removed field and a changed default (the check can fail)', () => {
    const released = buildSchema(
      'type Query { health: String, gone: String, list(first: Int = 10): [String] }',
    );
    const printed = buildSchema('type Query { health: String, list(first: Int = 20): [String] }');
    expect(contractDifferences(released, printed)).toEqual([
      'Query.gone was removed.',
      'Query.list arg first has changed defaultValue from 10 to 20.',
    ]);
    expect(findBreakingChanges(released, printed)[0]?.type).toBe(BreakingChangeType.FIELD_REMOVED);
  });
});
