import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  type FieldNode,
  GraphQLError,
  type GraphQLFieldConfig,
  GraphQLList,
  GraphQLObjectType,
  type GraphQLOutputType,
  GraphQLScalarType,
  GraphQLSchema,
  getNullableType,
  getOperationAST,
  isNonNullType,
  Kind,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import { EVENT_PAGES_EXTENSION, flattenPages } from '../../schema/event-pages.ts';
import { isAsyncIterable } from '../../type-guards.ts';
import { type PageTemplate, pageTemplateOf } from './page-template.ts';
import { SerializedResult } from './serialized-result.ts';

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
/** A page whose events were rendered to text by a PageTemplate: the mark holds the payload's head. */
const RENDERED_PAGE = Symbol('streamgate.renderedPage');

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
        const context = subscribeArgs.contextValue as
          | (Partial<GraphQLContext> & Partial<typeof ACCEPTS_EVENT_PAGES>)
          | undefined;
        const accepts = context?.acceptsEventPages === true;
        // A transport that takes pages gets them rendered when the selection allows
        // (page-template.ts): the source's pages pass the executor untouched (the field is a
        // scalar in the rendered schema) and the template writes each event as text.
        const template = accepts ? pageTemplateOf(args.schema, args.document, args.operationName) : undefined;
        const rendered = template && renderedSchemaOf(args.schema);
        const outcome = await subscribeFn({ ...subscribeArgs, schema: rendered ?? paged.schema });
        if (!isAsyncIterable(outcome)) return outcome;
        const pages = (outcome as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
        if (template && rendered) {
          return markedPages(pages, (result) =>
            renderPage(result, paged, template, {
              document: subscribeArgs.document,
              operationName: subscribeArgs.operationName,
              variableValues: subscribeArgs.variableValues,
              contextValue: subscribeArgs.contextValue,
            }),
          );
        }
        if (accepts) return markedPages(pages, (result) => mark(result, EVENT_PAGE, paged));
        return flattenPages(pages, (page) => splitPage(page, paged), context?.whenWritable);
      });
    },
  };
}

/** What executing a page needs when its events cannot be rendered. */
interface PageExecution {
  readonly document: DocumentNode;
  readonly operationName?: string | null;
  readonly variableValues?: { readonly [name: string]: unknown } | null;
  readonly contextValue?: unknown;
}

/**
 * A page of the rendered schema (its events as the source gave them) as its events' payloads,
 * marked; when one of them needs the executor (page-template.ts), the page is executed as the
 * paged schema has it and marked as such, so every event still says what execution says.
 */
async function renderPage(
  result: ExecutionResult,
  paged: PagedSubscription,
  template: PageTemplate,
  execution: PageExecution,
): Promise<ExecutionResult> {
  const events = result.data?.[paged.key];
  // The page failed as a whole (its source or the root field): as it is, as per event.
  if (!Array.isArray(events)) return result;
  const { contextValue } = execution;
  try {
    const payloads = new Array<string>(events.length);
    for (let index = 0; index < events.length; index++)
      payloads[index] = `${template.head}${template.render(events[index], contextValue)}}}`;
    return mark({ data: { [paged.key]: payloads } }, RENDERED_PAGE, paged);
  } catch {
    // A value only the executor can answer for (an error, a null where none may be): execute.
    const executed = await execute({
      schema: paged.schema,
      document: execution.document,
      rootValue: events,
      contextValue,
      variableValues: execution.variableValues,
      operationName: execution.operationName,
    });
    return mark(executed, EVENT_PAGE, paged);
  }
}

function mark(
  result: ExecutionResult,
  kind: typeof EVENT_PAGE | typeof RENDERED_PAGE,
  paged: PagedSubscription,
): ExecutionResult {
  (result as { [kind]?: PagedSubscription })[kind] = paged;
  return result;
}

/** The results of one page, one per event, when `result` is a page's result; else undefined. */
export function eventPageOf(result: ExecutionResult): readonly ExecutionResult[] | undefined {
  const marks = result as { [EVENT_PAGE]?: PagedSubscription; [RENDERED_PAGE]?: PagedSubscription };
  const rendered = marks[RENDERED_PAGE];
  if (rendered) {
    const payloads = result.data?.[rendered.key] as readonly string[];
    return payloads.map((payload) => new SerializedResult(payload));
  }
  const paged = marks[EVENT_PAGE];
  return paged && splitPage(result, paged);
}

/**
 * Each page's result marked with how to split it (`marked`). The mark is a symbol property:
 * plugins that replace a result by a copy (error masking spreads it) keep it.
 */
function markedPages(
  pages: AsyncIterator<ExecutionResult>,
  marked: (page: ExecutionResult) => ExecutionResult | Promise<ExecutionResult>,
): AsyncIterableIterator<ExecutionResult> {
  return {
    async next() {
      const step = await pages.next();
      if (step.done) return step;
      return { done: false, value: await marked(step.value) };
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
  return subscriptionVariant(schema, pageSchemas, (field, type) => ({
    ...field,
    type: new GraphQLList(getNullableType(type)),
  }));
}

const renderedSchemas = new WeakMap<GraphQLSchema, GraphQLSchema | null>();

/**
 * A page as the executor hands it on, untouched: the type of a paged field in the rendered
 * schema, whose events a PageTemplate writes.
 */
const EventPageScalar = new GraphQLScalarType({
  name: 'StreamgateEventPage',
  serialize: (page) => page,
  extensions: { [EVENT_PAGES_EXTENSION]: true },
});

/**
 * `schema` with every paged subscription field a scalar resolving to the page itself (the
 * `resolve` of a paged field hands its event on as it is: event-pages.ts). Built once per schema.
 */
export function renderedSchemaOf(schema: GraphQLSchema): GraphQLSchema | null {
  return subscriptionVariant(schema, renderedSchemas, (field) => ({
    ...field,
    type: EventPageScalar,
    resolve: (page: unknown) => page,
  }));
}

/** `schema` with its paged subscription fields changed by `change`, once per schema and cache. */
function subscriptionVariant(
  schema: GraphQLSchema,
  cache: WeakMap<GraphQLSchema, GraphQLSchema | null>,
  change: (
    field: GraphQLFieldConfig<unknown, unknown>,
    type: GraphQLOutputType,
  ) => GraphQLFieldConfig<unknown, unknown>,
): GraphQLSchema | null {
  const known = cache.get(schema);
  if (known !== undefined) return known;
  const subscription = schema.getSubscriptionType();
  let variant: GraphQLSchema | null = null;
  if (subscription) {
    const config = subscription.toConfig();
    const fields = Object.fromEntries(
      Object.entries(config.fields).map(([name, field]) => [
        name,
        field.extensions?.[EVENT_PAGES_EXTENSION] === true ? change(field, field.type) : field,
      ]),
    );
    const schemaConfig = schema.toConfig();
    variant = new GraphQLSchema({
      ...schemaConfig,
      subscription: new GraphQLObjectType({ ...config, fields }),
      types: schemaConfig.types.filter((type) => type !== subscription),
    });
  }
  cache.set(schema, variant);
  return variant;
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
