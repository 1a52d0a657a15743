import { describe, expect, it } from 'vitest';
import { FilterIndex } from '../../src/domain/topics/filter-index.ts';
import { compileFilter, matchesFilter } from '../../src/domain/topics/message-filter.ts';

function matched(index: FilterIndex<string>, data: unknown): string[] {
  const seen: string[] = [];
  index.match(data, (subscriber) => seen.push(subscriber));
  return seen.sort();
}

describe('FilterIndex', () => {
  it('finds exactly the subscribers whose filters pass, as a scan would', () => {
    const filters: Record<string, unknown> = {
      all: null,
      oil: { equals: { commodity: 'oil' } },
      oilNorth: { equals: { commodity: 'oil', region: 'north' } },
      gasOrOil: { where: [{ field: 'commodity', in: ['gas', 'oil'] }] },
      cheapOil: { equals: { commodity: 'oil' }, where: [{ field: 'price', lt: 80 }] },
      nested: { equals: { 'venue.code': 'IFEU' } },
      rangeOnly: { where: [{ field: 'price', gte: 70, lte: 90 }] },
      missing: { where: [{ field: 'nope', exists: false }] },
    };
    const index = new FilterIndex<string>();
    for (const [name, filter] of Object.entries(filters)) index.add(name, compileFilter(filter, 20));
    const messages = [
      { commodity: 'oil', region: 'north', price: 75, venue: { code: 'IFEU' } },
      { commodity: 'oil', region: 'south', price: 85 },
      { commodity: 'gas', price: 95, nope: 1 },
      { commodity: 'power' },
      'not json',
      { commodity: ['oil'] },
    ];
    for (const message of messages) {
      const scanned = Object.entries(filters)
        .filter(([, filter]) => matchesFilter(compileFilter(filter, 20), message))
        .map(([name]) => name)
        .sort();
      expect(matched(index, message), JSON.stringify(message)).toEqual(scanned);
    }
  });

  it('keys several filters on one field so a message costs one lookup for all of them', () => {
    const index = new FilterIndex<number>();
    for (let i = 0; i < 1000; i++)
      index.add(i, compileFilter({ equals: { symbol: `S${i}`, side: 'buy' } }, 20));
    expect(index.indexedFields).toBe(1);
    const seen: number[] = [];
    index.match({ symbol: 'S42', side: 'buy' }, (subscriber) => seen.push(subscriber));
    expect(seen).toEqual([42]);
  });

  it('forgets removed subscribers and empty keys', () => {
    const index = new FilterIndex<string>();
    index.add('a', compileFilter({ equals: { x: 1 } }, 20));
    index.add('b', compileFilter({ where: [{ field: 'x', in: [1, 2] }] }, 20));
    index.add('c', compileFilter(null, 20));
    expect(matched(index, { x: 1 })).toEqual(['a', 'b', 'c']);
    index.remove('a');
    index.remove('c');
    expect(matched(index, { x: 1 })).toEqual(['b']);
    index.remove('b');
    expect(index.size).toBe(0);
    expect(index.indexedFields).toBe(0);
    expect(matched(index, { x: 1 })).toEqual([]);
  });

  it('tells 1 from "1" and matches equal objects whatever their key order', () => {
    const index = new FilterIndex<string>();
    index.add('number', compileFilter({ equals: { v: 1 } }, 20));
    index.add('text', compileFilter({ equals: { v: '1' } }, 20));
    index.add('object', compileFilter({ equals: { v: { a: 1, b: 2 } } }, 20));
    expect(matched(index, { v: 1 })).toEqual(['number']);
    expect(matched(index, { v: '1' })).toEqual(['text']);
    expect(matched(index, { v: { b: 2, a: 1 } })).toEqual(['object']);
  });
});
