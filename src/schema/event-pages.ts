import { type GraphQLResolveInfo, getNullableType, isListType } from 'graphql';
import type { GraphQLContext } from '../domain/resolver-context.ts';

/**
 * Field extension of a subscription whose source yields pages of events (replay at speed 0
 * reads hundreds at a time). The server's event-pages plugin runs such a field against a copy of
 * the schema where it is a list, so the selection is executed once per page instead of once per
 * event; anywhere else the field streams one event at a time. Extensions are not printed in SDL.
 * A paged field's `resolve` hands its source's value on as it is (the page is its events).
 */
export const EVENT_PAGES_EXTENSION = 'streamgateEventPages';

/** `extensions` of a paged subscription field. */
export const eventPagesExtensions = { [EVENT_PAGES_EXTENSION]: true } as const;

/**
 * What a paged field's `subscribe` hands graphql: the pages as they are when the execution maps
 * a page at once (the field's return type is then a list), else one event at a time, each once
 * the client can take more. The declared type is the per-event one Pothos expects of `subscribe`.
 */
export async function pagesOrEvents<T>(
  info: GraphQLResolveInfo,
  context: GraphQLContext,
  pages: Promise<AsyncIterableIterator<readonly T[]>>,
): Promise<AsyncIterableIterator<T>> {
  const source = await pages;
  const type = getNullableType(info.returnType);
  // A list, or a scalar marked with the extension: the server maps (or renders) a page at once.
  if (isListType(type) || type.extensions?.[EVENT_PAGES_EXTENSION] === true)
    return source as unknown as AsyncIterableIterator<T>;
  return flattenPages(source, (page) => page, context.whenWritable);
}

/**
 * The items of each page of `source` (as `split` makes them), one per `next()`, each after
 * `whenWritable` (the transport's backpressure) allows it: a page arrives at once, but goes to
 * the client no faster than it reads. Hand-written rather than an async generator: return()
 * reaches the source at once, also while the source waits for its next page.
 */
export function flattenPages<P, T>(
  source: AsyncIterator<P>,
  split: (page: P) => readonly T[],
  whenWritable: GraphQLContext['whenWritable'],
): AsyncIterableIterator<T> {
  let items: readonly T[] = [];
  let index = 0;
  return {
    async next() {
      while (index >= items.length) {
        const step = await source.next();
        if (step.done) return { done: true, value: undefined };
        items = split(step.value);
        index = 0;
      }
      const wait = whenWritable?.();
      if (wait) {
        await wait;
        if (index >= items.length) return { done: true, value: undefined }; // returned meanwhile
      }
      const item = items[index] as T;
      index += 1;
      return { done: false, value: item };
    },
    async return() {
      items = [];
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      items = [];
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
