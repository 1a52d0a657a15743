import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  type OperationDefinitionNode,
  type OperationTypeNode,
} from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import type { GraphQLContext } from '../domain/resolver-context.ts';
import { isAsyncIterable } from '../type-guards.ts';
import { selectedOperation } from './auth/root-fields.ts';
import type { InitialContext } from './graphql-context.ts';

// biome-ignore lint/suspicious/noExplicitAny: yoga's server context type is irrelevant here
export type Yoga = YogaServerInstance<any, GraphQLContext>;

/** An operation as a transport received it: source text, or a document the adapter built. */
export interface OperationRequest {
  readonly query: string | DocumentNode;
  readonly operationName?: string | null;
  readonly variables?: Readonly<Record<string, unknown>> | null;
}

/** A parsed and validated operation, ready to run under any initial context. */
export interface ParsedOperation {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly kind: OperationTypeNode;
  readonly operationName: string | null;
  readonly variables: Readonly<Record<string, unknown>>;
}

/** A query's or mutation's result, or a subscription's stream of results. */
export type OperationOutcome = ExecutionResult | AsyncIterableIterator<ExecutionResult>;

/** An initial context with a transport's own fields, which ride along to the plugins. */
export type RunContext = InitialContext & Readonly<Record<string, unknown>>;

/**
 * The one execution seam (DESIGN.md decision 1): every transport, graphql-ws, the legacy
 * WebSocket and SSE adapters, the monitor route and the record RPC, runs its operations here,
 * through yoga's envelop, so parsing limits, auth, context, plugins and error masking are the same
 * for all. Parsing is apart from running so that a subscription group parses each member's
 * document but builds one context and runs one execution for all of them.
 */
export interface OperationRunner {
  /** Parses and validates (document limits, auth-free rules); errors come back masked. */
  parse(
    request: OperationRequest,
    initial: InitialContext,
  ): ParsedOperation | { readonly errors: GraphQLError[] };
  /** Builds the context of `initial` and executes or subscribes; a bad token is an error result. */
  run(parsed: ParsedOperation, initial: InitialContext): Promise<OperationOutcome>;
  /** parse, then run. */
  perform(request: OperationRequest, initial: InitialContext): Promise<OperationOutcome>;
}

type Enveloped = ReturnType<Yoga['getEnveloped']>;

/** The seam over one yoga; `yoga` is a getter because adapters are built before yoga, which serves them. */
export function createOperationRunner(
  yoga: () => Yoga,
  maskError: (error: unknown) => Error,
): OperationRunner {
  const mask = (error: unknown) => maskError(error) as GraphQLError;

  function parseWith(
    enveloped: Enveloped,
    request: OperationRequest,
  ): ParsedOperation | { readonly errors: GraphQLError[] } {
    let document: DocumentNode;
    if (typeof request.query === 'string') {
      try {
        document = enveloped.parse(request.query);
      } catch (error) {
        return { errors: [mask(error)] };
      }
      const errors = enveloped.validate(enveloped.schema, document);
      if (errors.length > 0) return { errors: errors.map(mask) };
    } else {
      // The adapters' own documents are codegen-typed and valid against the printed schema.
      document = request.query;
    }
    const operation = selectedOperation(document, request.operationName);
    if (!operation) return { errors: [new GraphQLError('Unable to identify operation')] };
    return {
      document,
      operation,
      kind: operation.operation,
      operationName: request.operationName ?? null,
      variables: request.variables ?? {},
    };
  }

  // yoga is the server adapter's Proxy: each `.getEnveloped` read goes through its trap and
  // makes a new function that calls yoga's own. That function is kept from the first read (it
  // still calls the getEnveloped yoga holds at the time of each call).
  let getEnveloped: Yoga['getEnveloped'] | undefined;
  const envelopedFor = (initial: InitialContext): Enveloped => {
    getEnveloped ??= yoga().getEnveloped;
    return getEnveloped(initial as RunContext);
  };

  async function runWith(enveloped: Enveloped, parsed: ParsedOperation): Promise<OperationOutcome> {
    let contextValue: unknown;
    try {
      contextValue = await enveloped.contextFactory();
    } catch (error) {
      // The context factory refuses a bad token with UNAUTHENTICATED, for instance.
      return { errors: [mask(error)] };
    }
    const args = {
      schema: enveloped.schema,
      document: parsed.document,
      operationName: parsed.operationName,
      variableValues: parsed.variables,
      contextValue,
    };
    if (parsed.kind !== 'subscription') return (await enveloped.execute(args)) as ExecutionResult;
    // graphql-js hands back an async iterable iterator (or a result when refused at start).
    return (await enveloped.subscribe(args)) as OperationOutcome;
  }

  return {
    parse: (request, initial) => parseWith(envelopedFor(initial), request),
    run: (parsed, initial) => runWith(envelopedFor(initial), parsed),
    // One enveloped for both steps: envelop's init hooks run once per operation, on the same
    // initial context either way (its hooks extend that object in place).
    async perform(request, initial) {
      const enveloped = envelopedFor(initial);
      const parsed = parseWith(enveloped, request);
      if ('errors' in parsed) return { errors: parsed.errors };
      return runWith(enveloped, parsed);
    },
  };
}

/** True when an outcome is a subscription's stream rather than a single result. */
export function isResultStream(outcome: OperationOutcome): outcome is AsyncIterableIterator<ExecutionResult> {
  return isAsyncIterable(outcome);
}
