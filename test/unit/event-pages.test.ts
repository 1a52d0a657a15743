import {
  type ExecutionResult,
  GraphQLFloat,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLString,
  parse,
  subscribe,
} from 'graphql';
import { createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { JsonText } from '../../src/domain/json-text.ts';
import type { GraphQLContext } from '../../src/domain/resolver-context.ts';
import { eventPagesExtensions, pagesOrEvents } from '../../src/schema/event-pages.ts';
import {
  ACCEPTS_EVENT_PAGES,
  eventPageOf,
  useEventPages,
} from '../../src/server/delivery/event-pages-plugin.ts';
import { GroupEvent, serializeResult } from '../../src/server/delivery/subscription-groups.ts';

interface Tick {
  readonly n: number;
}

/** Stored JSON as the database gives it (spaces and all), with numbers a double barely holds. */
const STORED =
  '{"sum": 0.30000000000000004, "max": 9007199254740991, "tiny": 1e-300, "neg": -2.2250738585072014e-308}';

/** Like the server's JSON scalar: a JsonText is parsed when serialized. */
const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (value) => (value instanceof JsonText ? value.value() : value),
});

const Detail = new GraphQLObjectType<Tick>({
  name: 'Detail',
  fields: {
    half: { type: new GraphQLNonNull(GraphQLFloat), resolve: (tick) => tick.n / 2 },
    label: { type: GraphQLString, resolve: (tick) => (tick.n % 2 === 0 ? `even "${tick.n}"` : null) },
  },
});

/** Ticks 1..7 in pages of 3; `bad` fails for tick 2, `worse` (non-null) for tick 5. */
const Tick = new GraphQLObjectType<Tick>({
  name: 'Tick',
  fields: {
    n: { type: new GraphQLNonNull(GraphQLInt) },
    bad: {
      type: GraphQLInt,
      resolve: (tick) => {
        if (tick.n === 2) throw new Error('bad tick 2');
        return tick.n * 10;
      },
    },
    worse: {
      type: new GraphQLNonNull(GraphQLInt),
      resolve: (tick) => {
        if (tick.n === 5) throw new Error('worse tick 5');
        return -tick.n;
      },
    },
    stored: { type: new GraphQLNonNull(JsonScalar), resolve: () => new JsonText(STORED) },
    detail: { type: Detail, resolve: (tick) => tick },
  },
});

async function* pages(): AsyncGenerator<readonly Tick[]> {
  yield [{ n: 1 }, { n: 2 }, { n: 3 }];
  yield [{ n: 4 }, { n: 5 }, { n: 6 }];
  yield [{ n: 7 }];
}

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      ticks: {
        type: new GraphQLNonNull(Tick),
        extensions: eventPagesExtensions,
        subscribe: (_root, _args, context: GraphQLContext, info) =>
          pagesOrEvents(info, context, Promise.resolve(pages())),
        resolve: (payload: unknown) => payload,
      },
    },
  }),
});

const yoga = createYoga({ schema, maskedErrors: false, plugins: [useEventPages()] });

/** What the client would see of each message: data and errors with their paths, as JSON. */
const wire = (result: ExecutionResult) => JSON.parse(JSON.stringify(result)) as unknown;

async function collect(stream: unknown): Promise<ExecutionResult[]> {
  const results: ExecutionResult[] = [];
  for await (const result of stream as AsyncIterable<ExecutionResult>) results.push(result);
  return results;
}

async function run(query: string, initial: Record<string, unknown> = {}): Promise<ExecutionResult[]> {
  const enveloped = yoga.getEnveloped(initial);
  const contextValue = await enveloped.contextFactory();
  return collect(
    await enveloped.subscribe({ schema: enveloped.schema, document: parse(query), contextValue }),
  );
}

const QUERY = 'subscription { ticks { n bad } }';
const NON_NULL_QUERY = 'subscription { t: ticks { n worse } }';

describe('event pages: the selection executed once per page, one result per event', () => {
  it('per event, plain graphql-js without the plugin: the reference', async () => {
    const results = await collect(await subscribe({ schema, document: parse(QUERY), contextValue: {} }));
    expect(results.map(wire)).toEqual([
      { data: { ticks: { n: 1, bad: 10 } } },
      {
        data: { ticks: { n: 2, bad: null } },
        errors: [{ message: 'bad tick 2', locations: [{ line: 1, column: 26 }], path: ['ticks', 'bad'] }],
      },
      { data: { ticks: { n: 3, bad: 30 } } },
      { data: { ticks: { n: 4, bad: 40 } } },
      { data: { ticks: { n: 5, bad: 50 } } },
      { data: { ticks: { n: 6, bad: 60 } } },
      { data: { ticks: { n: 7, bad: 70 } } },
    ]);
  });

  it('through the plugin, split in the stream: the same results, errors at the per-event path', async () => {
    const reference = await collect(await subscribe({ schema, document: parse(QUERY), contextValue: {} }));
    expect((await run(QUERY)).map(wire)).toEqual(reference.map(wire));
  });

  it('a transport that accepts pages gets one result per page and splits it into the same results', async () => {
    const pageResults = await run(QUERY, { ...ACCEPTS_EVENT_PAGES });
    expect(pageResults).toHaveLength(3);
    expect(wire(pageResults[0] as ExecutionResult)).toMatchObject({
      data: { ticks: [{ n: 1 }, { n: 2 }, { n: 3 }] },
    });
    const split = pageResults.flatMap((result) => eventPageOf(result) ?? []);
    expect(split.map(wire)).toEqual((await run(QUERY)).map(wire));
    // A result that is not a page's is not split.
    expect(eventPageOf({ data: { ticks: { n: 1 } } })).toBeUndefined();
  });

  it('a non-null field failing nulls that message alone (data: null), under its alias', async () => {
    const reference = await collect(
      await subscribe({ schema, document: parse(NON_NULL_QUERY), contextValue: {} }),
    );
    const paged = await run(NON_NULL_QUERY);
    expect(paged.map(wire)).toEqual(reference.map(wire));
    expect(wire(paged[4] as ExecutionResult)).toMatchObject({
      data: null,
      errors: [{ message: 'worse tick 5', path: ['t', 'worse'] }],
    });
    expect(wire(paged[5] as ExecutionResult)).toEqual({ data: { t: { n: 6, worse: -6 } } });
  });

  it('a directive on the root field runs per event, with the same results', async () => {
    const results = await run('subscription { ticks @include(if: true) { n bad } }', {
      ...ACCEPTS_EVENT_PAGES,
    });
    expect(results).toHaveLength(7);
    expect(results.every((result) => eventPageOf(result) === undefined)).toBe(true);
    expect(results.map((result) => (result.data?.ticks as Tick | undefined)?.n)).toEqual([
      1, 2, 3, 4, 5, 6, 7,
    ]);
  });

  it('a selection the template can write is rendered a page at a time: byte for byte what execution serializes', async () => {
    const query = `subscription Ticks { t: ticks { __typename n ...More detail { half } ... on Tick { detail { label } } } }
      fragment More on Tick { n detail { half } }`;
    const pageResults = await run(query, { ...ACCEPTS_EVENT_PAGES });
    expect(pageResults).toHaveLength(3);
    // Rendered, not executed: the page carries its events' payloads.
    expect(pageResults[0]?.data?.t).toSatisfy((items: unknown[]) =>
      items.every((item) => typeof item === 'string'),
    );
    const split = pageResults.flatMap((result) => eventPageOf(result) ?? []);
    const reference = await collect(await subscribe({ schema, document: parse(query), contextValue: {} }));
    expect(split.map((result) => new GroupEvent(result).payload)).toEqual(reference.map(serializeResult));
    expect(split.map(wire)).toEqual(reference.map(wire));
    expect(new GroupEvent(split[1] as ExecutionResult).payload).toBe(
      '{"data":{"t":{"__typename":"Tick","n":2,"detail":{"half":1,"label":"even \\"2\\""}}}}',
    );
  });

  it('a page with a failing field is executed: its errors are the per-event ones, the other pages rendered', async () => {
    const reference = await collect(await subscribe({ schema, document: parse(QUERY), contextValue: {} }));
    const split = (await run(QUERY, { ...ACCEPTS_EVENT_PAGES })).flatMap(
      (result) => eventPageOf(result) ?? [],
    );
    expect(split.map(wire)).toEqual(reference.map(wire));
    expect(split.map((result) => new GroupEvent(result).payload)).toEqual(reference.map(serializeResult));
  });

  it('stored JSON goes out as the stored text: every digit of its numbers survives', async () => {
    const query = 'subscription { ticks { n stored } }';
    const split = (await run(query, { ...ACCEPTS_EVENT_PAGES })).flatMap(
      (result) => eventPageOf(result) ?? [],
    );
    expect(split).toHaveLength(7);
    const payload = new GroupEvent(split[0] as ExecutionResult).payload;
    expect(payload).toBe(`{"data":{"ticks":{"n":1,"stored":${STORED}}}}`);
    const stored = (JSON.parse(payload) as { data: { ticks: { stored: Record<string, number> } } }).data.ticks
      .stored;
    expect(Object.is(stored.sum, 0.30000000000000004)).toBe(true);
    expect(Object.is(stored.max, 9007199254740991)).toBe(true);
    expect(Object.is(stored.tiny, 1e-300)).toBe(true);
    expect(Object.is(stored.neg, -2.2250738585072014e-308)).toBe(true);
    // Executed per event (no pages accepted), the same values.
    const perEvent = await run(query);
    expect(wire(perEvent[0] as ExecutionResult)).toEqual(JSON.parse(payload));
  });
});
