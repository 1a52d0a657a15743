import { describe, expect, it } from 'vitest';
import {
  AmbiguousRouteError,
  ROUTE_ORIGIN,
  type Route,
  RoutingTable,
} from '../../src/domain/routes/route-matching.ts';
import { parseSelector, SELECTOR_KIND, selectorMatches } from '../../src/domain/routes/selector.ts';

const matchCases: Array<[string, string, boolean]> = [
  // exact, in either notation; a state id may use "/" as a path
  ['orders', 'orders', true],
  ['orders', 'orders2', false],
  ['orders/eu', 'orders/eu', true],
  ['orders.eu', 'orders/eu', true],
  ['orders/eu', 'orders/eu/42', false],
  // legacy "/*": prefix at any depth, never the bare prefix
  ['orders/*', 'orders/eu', true],
  ['orders/*', 'orders/eu/42', true],
  ['orders/*', 'orders', false],
  ['orders/*', 'ordersx/eu', false],
  // broker form: * one token, > the rest
  ['orders.*', 'orders/eu', true],
  ['orders.*', 'orders/eu/42', false],
  ['orders.>', 'orders/eu/42', true],
  ['orders.>', 'orders', false],
  ['*', 'anything', true],
  ['*', 'a/b', false],
  ['>', 'a/b', true],
  ['orders.*.42', 'orders/eu/42', true],
  ['orders/*/42', 'orders/eu/42', true],
  ['orders/*/42', 'orders/eu/43', false],
];

describe('route selectors', () => {
  it.each(matchCases)('%s matches %s: %s', (selector, key, expected) => {
    expect(selectorMatches(parseSelector(selector), key)).toBe(expected);
  });

  it.each([
    ['orders', SELECTOR_KIND.EXACT],
    ['orders/*', SELECTOR_KIND.PREFIX],
    ['orders.*', SELECTOR_KIND.PATTERN],
    ['orders/*/42', SELECTOR_KIND.PATTERN],
    ['>', SELECTOR_KIND.PATTERN],
  ])('%s is a %s selector', (selector, kind) => {
    expect(parseSelector(selector).kind).toBe(kind);
  });

  it.each([
    ['', 'empty'],
    ['a b', 'white space'],
    ['a/b.c', 'either "/"'],
    ['a//b', 'empty token'],
    ['ord*', 'whole tokens'],
    ['a.>.b', '">" must be last'],
  ])('rejects %j (%s)', (selector, reason) => {
    expect(() => parseSelector(selector)).toThrow(reason);
  });
});

function route(id: string, selector: string, subject = `to.${id}`): Route {
  return {
    id,
    selector,
    subject,
    name: null,
    url: null,
    queue: null,
    origin: ROUTE_ORIGIN.API,
    createdAt: new Date(),
  };
}

describe('routing table lookup (legacy.md B)', () => {
  const table = new RoutingTable([
    route('r-exact', 'models/openai/gpt'),
    route('r-openai', 'models/openai/*'),
    route('r-models', 'models/*'),
    route('r-anthropic', 'models/anthropic/*'),
  ]);

  it('an exact match wins over prefix matches', () => {
    expect(table.resolve('models/openai/gpt').id).toBe('r-exact');
  });

  it('a single prefix match is the route', () => {
    expect(new RoutingTable([route('only', 'a/*')]).resolve('a/b/c').id).toBe('only');
  });

  it('two or more prefix matches are an error naming them', () => {
    const error = (() => {
      try {
        table.resolve('models/openai/davinci');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(AmbiguousRouteError);
    expect((error as Error).message).toContain('"models/openai/*" (r-openai)');
    expect((error as Error).message).toContain('"models/*" (r-models)');
    expect((error as AmbiguousRouteError).code).toBe('BAD_USER_INPUT');
  });

  it('no match is NOT_FOUND', () => {
    expect(() => table.resolve('elsewhere/x')).toThrow('route "elsewhere/x" not found');
  });

  it('a route id resolves to that route', () => {
    expect(table.resolve('r-models').id).toBe('r-models');
  });

  it('forwarding takes every matching route', () => {
    expect(table.matching('models/openai/gpt').map((r) => r.id)).toEqual(['r-exact', 'r-openai', 'r-models']);
  });
});
