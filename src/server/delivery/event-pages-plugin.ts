import {
  type ExecutionResult,
  type FieldNode,
  GraphQLError,
  GraphQLList,
  GraphQLObjectType,
  GraphQLSchema,
  getNullableType,
  getOperationAST,
  isNonNullType,
  Kind,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../../schema/context.ts';
import { EVENT_PAGES_EXTENSION, flattenPages } from '../../schema/event-pages.ts';
import { isAsyncIterable } from '../../type-guards.ts';

/** A subscription whose root field yields pages, and how to run it a page at a time. */
export interface PagedSubscription {
  /** The schema in which the paged root fields are lists of their event type. */
  readonly schema: GraphQLSchema;
  /** The root field's response key (its alias or name): each message's `data` holds only it. */
  readonly key: string;
  /** The event type is non-null: an event whose selection failed is `data: null`, as per event. */
  readonly nonNull: boolean;
}

/**
 * Marks an operation whose transport takes a page's result whole and splits it itself
 * (eventPageOf, as the subscription groups do): then the stream carries one result per page,
 * and nothing runs per event but the split, the serialization and the write.
 */
export const ACCEPTS_EVENT_PAGES = { acceptsEventPages: true } as const;

const EVENT_PAGE = Symbol('streamgate.eventPage');

/**
 * Executes the selection of a paged subscription field (event-pages.ts: replay) once per page
 * of events instead of once per event, on every transport: the field's source yields pages and
 * the page is executed against a copy of the schema where the field is a list. A transport that
 * accepts pages (ACCEPTS_EVENT_PAGES) gets each page's result, marked, and splits it with
 * eventPageOf; any other gets one result per event, each once the client can take more (the
 * context's whenWritable). What each message carries is what a per-event execution gives,
 * errors included (their path loses the page index). Operations with a directive or several
 * selections at the root run per event.
 */
export function useEventPages(): Plugin {
  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const paged = pagedSubscriptionOf(args.schema, args.document, args.operationName);
      if (!paged) return;
      setSubscribeFn(async (subscribeArgs) => {
        const outcome = await subscribeFn({ ...subscribeArgs, schema: paged.schema });
        if (!isAsyncIterable(outcome)) return outcome;
        const pages = (outcome as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
        const context = subscribeArgs.contextValue as
          | (Partial<GraphQLContext> & Partial<typeof ACCEPTS_EVENT_PAGES>)
          | undefined;
        if (context?.acceptsEventPages === true) return markedPages(pages, paged);
        return flattenPages(pages, (page) => splitPage(page, paged), context?.whenWritable);
      });
    },
  };
}

/** The results of one page, one per event, when `result` is a page's result; else undefined. */
export function eventPageOf(result: ExecutionResult): readonly ExecutionResult[] | undefined {
  const paged = (result as { [EVENT_PAGE]?: PagedSubscription })[EVENT_PAGE];
  return paged && splitPage(result, paged);
}

/**
 * Each page's result marked with how to split it. The mark is a symbol property: plugins that
 * replace a result by a copy (error masking spreads it) keep it.
 */
function markedPages(
  pages: AsyncIterator<ExecutionResult>,
  paged: PagedSubscription,
): AsyncIterableIterator<ExecutionResult> {
  return {
    async next() {
      const step = await pages.next();
      if (!step.done) (step.value as { [EVENT_PAGE]?: PagedSubscription })[EVENT_PAGE] = paged;
      return step;
    },
    async return() {
      await pages.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await pages.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** The paged form of an operation, or undefined when it is not a lone paged root field. */
export function pagedSubscriptionOf(
  schema: GraphQLSchema,
  document: Parameters<typeof getOperationAST>[0],
  operationName: string | null | undefined,
): PagedSubscription | undefined {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return undefined;
  const [field, ...others] = operation.selectionSet.selections;
  if (field?.kind !== Kind.FIELD || others.length > 0 || (field.directives?.length ?? 0) > 0)
    return undefined;
  const definition = schema.getSubscriptionType()?.getFields()[field.name.value];
  if (definition?.extensions?.[EVENT_PAGES_EXTENSION] !== true) return undefined;
  const pagedSchema = pageSchemaOf(schema);
  if (!pagedSchema) return undefined;
  return { schema: pagedSchema, key: responseKey(field), nonNull: isNonNullType(definition.type) };
}

const pageSchemas = new WeakMap<GraphQLSchema, GraphQLSchema | null>();

/**
 * `schema` with every paged subscription field a nullable list of nullable events (one failed
 * event is a null item with its errors, not a failed page); the same types, resolvers and
 * directives otherwise. Built once per schema.
 */
export function pageSchemaOf(schema: GraphQLSchema): GraphQLSchema | null {
  const known = pageSchemas.get(schema);
  if (known !== undefined) return known;
  const subscription = schema.getSubscriptionType();
  let paged: GraphQLSchema | null = null;
  if (subscription) {
    const config = subscription.toConfig();
    const fields = Object.fromEntries(
      Object.entries(config.fields).map(([name, field]) => [
        name,
        field.extensions?.[EVENT_PAGES_EXTENSION] === true
          ? { ...field, type: new GraphQLList(getNullableType(field.type)) }
          : field,
      ]),
    );
    const schemaConfig = schema.toConfig();
    paged = new GraphQLSchema({
      ...schemaConfig,
      subscription: new GraphQLObjectType({ ...config, fields }),
      types: schemaConfig.types.filter((type) => type !== subscription),
    });
  }
  pageSchemas.set(schema, paged);
  return paged;
}

/** One page's result as one result per event, each as a per-event execution would give it. */
export function splitPage(result: ExecutionResult, paged: PagedSubscription): readonly ExecutionResult[] {
  const { key } = paged;
  const items = result.data?.[key];
  // The page failed as a whole (its source or the root field): one error result, as per event.
  if (!Array.isArray(items)) return [result];
  const errorsAt = new Map<number, GraphQLError[]>();
  for (const error of result.errors ?? []) {
    const index = error.path?.[1];
    if (typeof index !== 'number') continue;
    const errors = errorsAt.get(index) ?? [];
    errors.push(withoutPageIndex(error, key));
    errorsAt.set(index, errors);
  }
  return items.map((item: unknown, index) => {
    const errors = errorsAt.get(index);
    if (!errors) return { data: { [key]: item } };
    return { data: item === null && paged.nonNull ? null : { [key]: item }, errors };
  });
}

/** The error with the path a per-event execution reports: [key, …] instead of [key, index, …]. */
function withoutPageIndex(error: GraphQLError, key: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: [key, ...(error.path ?? []).slice(2)],
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function responseKey(field: FieldNode): string {
  return field.alias?.value ?? field.name.value;
}
