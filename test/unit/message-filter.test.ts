import { describe, expect, it } from 'vitest';
import { compileFilter, matchesFilter } from '../../src/domain/topics/message-filter.ts';
import { BadUserInputError } from '../../src/errors.ts';

const quote = {
  commodity: 'oil',
  region: 'north_sea',
  price: 82.5,
  volume: 0,
  flags: null,
  venue: { name: 'ICE', code: 'IFEU' },
  legs: [{ price: 81 }, { price: 84 }],
};

const matches = (filter: unknown, data: unknown = quote) => matchesFilter(compileFilter(filter, 20), data);

describe('MessageFilter', () => {
  it('lets everything through without a filter', () => {
    expect(matches(null)).toBe(true);
    expect(matches({})).toBe(true);
    expect(matches({ equals: {}, where: [] })).toBe(true);
  });

  it.each([
    ['equals, top level', { equals: { commodity: 'oil' } }, true],
    ['equals, two fields ANDed', { equals: { commodity: 'oil', region: 'gulf' } }, false],
    ['equals, nested path', { equals: { 'venue.code': 'IFEU' } }, true],
    ['equals, nested path no match', { equals: { 'venue.code': 'NYMEX' } }, false],
    ['equals, array index', { equals: { 'legs.1.price': 84 } }, true],
    ['equals, type matters', { equals: { price: '82.5' } }, false],
    ['equals, whole object', { equals: { venue: { code: 'IFEU', name: 'ICE' } } }, true],
    ['equals on a missing field', { equals: { missing: null } }, false],
    ['eq null on a null field', { where: [{ field: 'flags', eq: null }] }, true],
    ['ne', { where: [{ field: 'region', ne: 'gulf' }] }, true],
    ['ne on a missing field is false', { where: [{ field: 'missing', ne: 'x' }] }, false],
    ['in', { where: [{ field: 'region', in: ['gulf', 'north_sea'] }] }, true],
    ['in, no match', { where: [{ field: 'region', in: ['gulf'] }] }, false],
    ['gt', { where: [{ field: 'price', gt: 82 }] }, true],
    ['gt at the bound', { where: [{ field: 'price', gt: 82.5 }] }, false],
    ['gte at the bound', { where: [{ field: 'price', gte: 82.5 }] }, true],
    ['inclusive range', { where: [{ field: 'price', gte: 80, lte: 82.5 }] }, true],
    ['range, outside', { where: [{ field: 'price', gte: 83, lte: 90 }] }, false],
    ['lt on zero', { where: [{ field: 'volume', lt: 1 }] }, true],
    ['gt on a string field is false', { where: [{ field: 'commodity', gt: 1 }] }, false],
    ['exists true', { where: [{ field: 'venue.name', exists: true }] }, true],
    ['exists true on null counts as present', { where: [{ field: 'flags', exists: true }] }, true],
    ['exists false on a missing field', { where: [{ field: 'venue.mic', exists: false }] }, true],
    ['exists false on a present field', { where: [{ field: 'venue.name', exists: false }] }, false],
    ['prefix', { where: [{ field: 'region', prefix: 'north' }] }, true],
    ['prefix on a number is false', { where: [{ field: 'price', prefix: '8' }] }, false],
    ['equals and where ANDed', { equals: { commodity: 'oil' }, where: [{ field: 'price', lt: 50 }] }, false],
  ])('%s', (_name, filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });

  it('treats a message that is not an object (a non-JSON value) as having no fields', () => {
    expect(matches({ equals: { commodity: 'oil' } }, 'plain text')).toBe(false);
    expect(matches({ where: [{ field: 'commodity', exists: false }] }, 'plain text')).toBe(true);
  });

  it('never reads inherited properties', () => {
    expect(matches({ where: [{ field: 'toString', exists: true }] }, {})).toBe(false);
    expect(matches({ where: [{ field: 'commodity.length', eq: 3 }] })).toBe(false);
  });

  it.each([
    ['an unknown operator', { where: [{ field: 'price', between: [1, 2] }] }, 'unknown operator "between"'],
    ['a non-number for gt', { where: [{ field: 'price', gt: '5' }] }, 'filter.where[0].gt must be a number'],
    ['a predicate without operator', { where: [{ field: 'price' }] }, 'has no operator'],
    ['__proto__ in a path', { equals: { '__proto__.polluted': 1 } }, 'reserved name "__proto__"'],
    [
      'constructor in a path',
      { where: [{ field: 'a.constructor', exists: true }] },
      'reserved name "constructor"',
    ],
    ['prototype in a path', { where: [{ field: 'prototype', eq: 1 }] }, 'reserved name "prototype"'],
    ['an empty segment', { equals: { 'a..b': 1 } }, 'empty segment'],
    ['an unknown filter key', { match: { a: 1 } }, 'unknown key "match"'],
    ['in that is not a list', { where: [{ field: 'a', in: 'x' }] }, 'must be a list'],
    ['exists that is not a boolean', { where: [{ field: 'a', exists: 'yes' }] }, 'true or false'],
  ])('rejects %s as BAD_USER_INPUT', (_name, filter, message) => {
    expect(() => compileFilter(filter, 20)).toThrow(BadUserInputError);
    expect(() => compileFilter(filter, 20)).toThrow(message);
  });

  it('rejects a JSON __proto__ key (as JSON.parse makes it) in equals', () => {
    expect(() => compileFilter(JSON.parse('{"equals":{"__proto__":{"x":1}}}'), 20)).toThrow('reserved name');
  });

  it('counts every condition against FILTER_MAX_TERMS', () => {
    const filter = { equals: { a: 1, b: 2 }, where: [{ field: 'c', gte: 1, lte: 2 }] };
    expect(compileFilter(filter, 4).terms).toHaveLength(4);
    expect(() => compileFilter(filter, 3)).toThrow(
      'filter has 4 conditions; at most 3 are allowed (FILTER_MAX_TERMS)',
    );
  });
});
