import {
  type DocumentNode,
  defaultFieldResolver,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getNullableType,
  getOperationAST,
  isLeafType,
  isNonNullType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { JsonText } from '../../domain/json-text.ts';
import { JSON_SCALAR } from '../../schema/scalars.ts';

/**
 * One event's selection as JSON text, exactly as executing the selection and serializing the
 * result (serializeResult) would write it; throws CANNOT_RENDER when only the executor can say
 * what the client sees (a resolver that throws or answers a promise, a null where the type
 * forbids one, a scalar that refuses its value).
 */
export type RenderEvent = (event: unknown, context: unknown) => string;

/** Thrown by a RenderEvent: execute this page instead. */
export const CANNOT_RENDER = Symbol('streamgate.cannotRender');

/** How to write one event of a paged subscription without executing its selection. */
export interface PageTemplate {
  /** The message payload's head: `{"data":{"<response key>":`; the event and `}}` complete it. */
  readonly head: string;
  readonly render: RenderEvent;
}

const templates = new WeakMap<DocumentNode, Map<string, PageTemplate | null>>();

/**
 * The template of a lone paged root field's selection (event-pages-plugin.ts), compiled once per
 * document and operation, or undefined when the selection needs the executor: arguments or
 * directives below the root, lists, abstract types, types with isTypeOf, fragments on another
 * type. What it renders for an event is what executing the selection gives, resolver by resolver
 * (called with the arguments {} and an info without a list index in its path), scalar by scalar;
 * a JsonText of the JSON scalar is spliced as the stored text instead of parsed and serialized
 * again. Anything unusual throws CANNOT_RENDER and the page is executed after all.
 */
export function pageTemplateOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): PageTemplate | undefined {
  let byName = templates.get(document);
  if (!byName) {
    byName = new Map();
    templates.set(document, byName);
  }
  const name = operationName ?? '';
  const known = byName.get(name);
  if (known !== undefined) return known ?? undefined;
  const template = compile(schema, document, operationName) ?? null;
  byName.set(name, template);
  return template ?? undefined;
}

function compile(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): PageTemplate | undefined {
  const operation = getOperationAST(document, operationName);
  const [root, ...others] = operation?.selectionSet.selections ?? [];
  if (!operation || root?.kind !== Kind.FIELD || others.length > 0 || !root.selectionSet) return undefined;
  const field = schema.getSubscriptionType()?.getFields()[root.name.value];
  const type = field && getNullableType(field.type);
  if (!(type instanceof GraphQLObjectType)) return undefined;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  const render = compileObject({ schema, operation, fragments }, type, [root.selectionSet]);
  if (!render) return undefined;
  return { head: `{"data":{${JSON.stringify(root.alias?.value ?? root.name.value)}:`, render };
}

interface Scope {
  readonly schema: GraphQLSchema;
  readonly operation: OperationDefinitionNode;
  readonly fragments: Record<string, FragmentDefinitionNode>;
}

const NO_ARGUMENTS = Object.freeze({});

function compileObject(
  scope: Scope,
  type: GraphQLObjectType,
  selectionSets: readonly SelectionSetNode[],
): RenderEvent | undefined {
  if (type.isTypeOf) return undefined;
  const collected = new Map<string, FieldNode[]>();
  for (const set of selectionSets) if (!collectFields(scope, type, set, collected)) return undefined;
  const fields: RenderEvent[] = [];
  const prefixes: string[] = [];
  for (const [key, nodes] of collected) {
    const render = compileField(scope, type, key, nodes);
    if (!render) return undefined;
    prefixes.push(`${fields.length === 0 ? '{' : ','}${JSON.stringify(key)}:`);
    fields.push(render);
  }
  if (fields.length === 0) return undefined;
  return (source, context) => {
    let text = '';
    for (let index = 0; index < fields.length; index++)
      text += (prefixes[index] as string) + (fields[index] as RenderEvent)(source, context);
    return `${text}}`;
  };
}

/** Fields by response key in the executor's order; false for anything but plain fields. */
function collectFields(
  scope: Scope,
  type: GraphQLObjectType,
  set: SelectionSetNode,
  into: Map<string, FieldNode[]>,
): boolean {
  for (const selection of set.selections) {
    if ((selection.directives?.length ?? 0) > 0) return false;
    if (selection.kind === Kind.FIELD) {
      if ((selection.arguments?.length ?? 0) > 0) return false;
      const key = selection.alias?.value ?? selection.name.value;
      const nodes = into.get(key);
      if (nodes) nodes.push(selection);
      else into.set(key, [selection]);
      continue;
    }
    const fragment =
      selection.kind === Kind.INLINE_FRAGMENT ? selection : scope.fragments[selection.name.value];
    if (!fragment) return false;
    const condition = fragment.typeCondition?.name.value;
    if (condition !== undefined && condition !== type.name) return false;
    if (!collectFields(scope, type, fragment.selectionSet, into)) return false;
  }
  return true;
}

function compileField(
  scope: Scope,
  parentType: GraphQLObjectType,
  key: string,
  nodes: FieldNode[],
): RenderEvent | undefined {
  const name = (nodes[0] as FieldNode).name.value;
  if (name === '__typename') {
    const text = JSON.stringify(parentType.name);
    return () => text;
  }
  const field = parentType.getFields()[name];
  if (!field || field.args.length > 0) return undefined;
  const nonNull = isNonNullType(field.type);
  const type = getNullableType(field.type);
  const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
  // The info a resolver gets; its path has no list index (the resolvers of paged fields read none).
  const info: GraphQLResolveInfo = {
    fieldName: name,
    fieldNodes: nodes,
    returnType: field.type,
    parentType,
    path: { prev: undefined, key, typename: parentType.name },
    schema: scope.schema,
    fragments: scope.fragments,
    rootValue: undefined,
    operation: scope.operation,
    variableValues: {},
  };
  const resolved = (source: unknown, context: unknown): unknown => {
    const value = resolve(source, NO_ARGUMENTS, context, info);
    if (value === null || value === undefined) {
      if (nonNull) throw CANNOT_RENDER;
      return null;
    }
    if (typeof (value as { then?: unknown }).then === 'function') throw CANNOT_RENDER;
    return value;
  };
  if (isLeafType(type)) {
    const raw = type.name === JSON_SCALAR;
    return (source, context) => {
      const value = resolved(source, context);
      if (value === null) return 'null';
      if (raw && value instanceof JsonText) return value.text;
      const serialized = type.serialize(value);
      if (serialized === null || serialized === undefined) throw CANNOT_RENDER;
      const text = JSON.stringify(serialized);
      if (text === undefined) throw CANNOT_RENDER;
      return text;
    };
  }
  if (!(type instanceof GraphQLObjectType)) return undefined;
  const selectionSets = nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  const render = compileObject(scope, type, selectionSets);
  if (!render) return undefined;
  return (source, context) => {
    const value = resolved(source, context);
    return value === null ? 'null' : render(value, context);
  };
}
