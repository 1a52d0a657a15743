import { describe, expect, it } from 'vitest';
import {
  assertPattern,
  assertSubject,
  patternCovers,
  SubjectTrie,
  subjectMatches,
} from '../../src/pubsub/subject-pattern.ts';

const cases: Array<[string, string, boolean]> = [
  ['a.b', 'a.b', true],
  ['a.b', 'a.c', false],
  ['a.*', 'a.b', true],
  ['a.*', 'a.b.c', false],
  ['a.*', 'a', false],
  ['a.>', 'a.b', true],
  ['a.>', 'a.b.c', true],
  ['a.>', 'a', false],
  ['*.b', 'a.b', true],
  ['>', 'a.b.c', true],
  ['a.*.c', 'a.b.c', true],
  ['a.*.c', 'a.b.d', false],
];

describe('subject patterns', () => {
  it.each(cases)('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });

  it.each(cases)('the trie agrees: %s on %s', (pattern, subject, expected) => {
    const trie = new SubjectTrie<string>();
    trie.add(pattern, 'value');
    expect(trie.match(subject).has('value')).toBe(expected);
  });

  it('removes a pattern and prunes its branch', () => {
    const trie = new SubjectTrie<number>();
    trie.add('a.b.c', 1);
    trie.add('a.>', 2);
    trie.remove('a.b.c', 1);
    expect([...trie.match('a.b.c')]).toEqual([2]);
    trie.remove('a.>', 2);
    expect(trie.match('a.b.c').size).toBe(0);
  });

  it.each(['', 'a..b', 'a.*', 'a.>', 'a b', 'a.b*'])('rejects the subject %j', (subject) => {
    expect(() => assertSubject(subject)).toThrow(/invalid subject/);
  });

  it.each(['a.>.b', 'a.b>', '', 'a..*'])('rejects the pattern %j', (pattern) => {
    expect(() => assertPattern(pattern)).toThrow(/invalid subject/);
  });
});

describe('patternCovers', () => {
  it.each([
    ['a.>', 'a.b', true],
    ['a.>', 'a.*', true],
    ['a.>', 'a.b.>', true],
    ['a.>', 'a', false],
    ['a.>', 'b.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.*', true],
    ['a.*', 'a.>', false],
    ['a.*', 'a.b.c', false],
    ['a.b', 'a.*', false],
    ['a.b', 'a.b', true],
    ['>', 'x.y.z', true],
    ['*.b', 'a.b', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b', false],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(patternCovers(outer, inner)).toBe(expected);
  });
});
