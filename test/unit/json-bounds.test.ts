import { describe, expect, it } from 'vitest';
import { describeJsonViolation, findJsonViolation } from '../../src/domain/json-bounds.ts';
import { parseSyncMessage, SYNC_REJECTION } from '../../src/domain/states/state-messages.ts';

/** `[[[…1…]]]`, `levels` arrays deep, as text (too deep for a recursive builder). */
function nestedArrays(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

describe('JSON bounds (MAX_JSON_DEPTH, storable text)', () => {
  it.each([
    ['a scalar', 1, 3],
    ['an object 3 deep', { a: { b: { c: 1 } } }, 3],
    ['emoji (a proper surrogate pair) and control characters other than NUL', { t: '😀\u0001\t' }, 3],
  ])('accepts %s', (_name, value, maxDepth) => {
    expect(findJsonViolation(value, maxDepth)).toBeUndefined();
  });

  it.each([
    ['an object 4 deep', { a: { b: { c: { d: 1 } } } }, { kind: 'depth', path: '.a.b.c' }],
    ['a list inside', { a: [[[1]]] }, { kind: 'depth', path: '.a[0][0]' }],
    ['NUL in a string', { a: ['ok', 'x\u0000'] }, { kind: 'nul', path: '.a[1]' }],
    ['NUL in a key', { 'a b': { 'k\u0000': 1 } }, { kind: 'nul', path: '["a b"]["k\\u0000"]' }],
    ['a lone high surrogate', ['\uD83D'], { kind: 'surrogate', path: '[0]' }],
    ['a lone low surrogate', ['a\uDE00b'], { kind: 'surrogate', path: '[0]' }],
  ])('finds %s', (_name, value, expected) => {
    expect(findJsonViolation(value, 3)).toEqual(expected);
  });

  it('walks 100,000 levels without overflowing the stack and names the limit', () => {
    const value = JSON.parse(nestedArrays(100_000)) as unknown;
    const violation = findJsonViolation(value, 64);
    expect(violation?.kind).toBe('depth');
    expect(describeJsonViolation(violation as NonNullable<typeof violation>, 64)).toMatch(
      /^is nested more than 64 levels deep at \[0\]\[0\].*… \(MAX_JSON_DEPTH\)$/,
    );
  });

  it('the sync store rejects a message nested too deep before anything walks it; a shallow one passes', () => {
    const encode = (text: string) => new TextEncoder().encode(text);
    const deep = parseSyncMessage(
      encode(`{"type":"query_state_direct","state_id":"s","query_state":[{"v":${nestedArrays(100_000)}}]}`),
      64,
    );
    expect(deep).toMatchObject({ kind: 'rejected', reason: SYNC_REJECTION.UNBOUNDED });
    const nul = parseSyncMessage(
      encode('{"type":"query_state_direct","state_id":"s","query_state":[{"v":"a\\u0000"}]}'),
      64,
    );
    expect(nul).toMatchObject({ kind: 'rejected', message: expect.stringMatching(/NUL character/) });
    const fine = parseSyncMessage(
      encode(`{"type":"query_state_direct","state_id":"s","query_state":[{"v":${nestedArrays(10)}}]}`),
      64,
    );
    expect(fine).toMatchObject({ kind: 'direct', stateId: 's' });
  });
});
