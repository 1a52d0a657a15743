import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLNamedType,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  SchemaMetaFieldDef,
  type SelectionSetNode,
  TypeMetaFieldDef,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import { ERROR_CODES } from '../../errors.ts';

/**
 * Validation rules that bound what one document may ask for (DESIGN.md decision 5). They run on
 * every transport, since every transport validates through yoga's envelop. Introspection fields
 * count toward depth and cost like any other: introspection is the one cyclic part of
 * this schema, so it is what MAX_QUERY_DEPTH bounds in practice.
 */

type Rule = (context: ValidationContext) => ASTVisitor;

/** Multiplier of a list field without a `first` or `last` argument. */
const LIST_FACTOR = 10;
/** Multiplier of a `first`/`last` given by a variable, whose value validation cannot see. */
const VARIABLE_PAGE = 100;

function limitError(message: string, node: OperationDefinitionNode | FieldNode, limit: string): GraphQLError {
  return new GraphQLError(message, {
    nodes: [node],
    extensions: { code: ERROR_CODES.LIMIT_EXCEEDED, limit },
  });
}

function fragmentsOf(context: ValidationContext): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

/** Operations nested deeper than `maxDepth` fields are refused (MAX_QUERY_DEPTH). */
export function maxDepthRule(maxDepth: number): Rule {
  return (context) => {
    const fragments = fragmentsOf(context);
    // Per fragment, memoised, so that a fragment spread many times is measured once.
    const fragmentDepth = new Map<string, number>();
    const depthOf = (selectionSet: SelectionSetNode, visiting: Set<string>): number => {
      let deepest = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          const below = selection.selectionSet ? depthOf(selection.selectionSet, visiting) : 0;
          deepest = Math.max(deepest, 1 + below);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue; // cycles are NoFragmentCycles' to report
          let depth = fragmentDepth.get(name);
          if (depth === undefined) {
            visiting.add(name);
            depth = depthOf(fragment.selectionSet, visiting);
            visiting.delete(name);
            fragmentDepth.set(name, depth);
          }
          deepest = Math.max(deepest, depth);
        }
        if (deepest > maxDepth) return deepest; // no need to measure further
      }
      return deepest;
    };
    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            limitError(
              `the operation is nested ${depth} fields deep; at most ${maxDepth} are allowed (MAX_QUERY_DEPTH)`,
              operation,
              'MAX_QUERY_DEPTH',
            ),
          );
        }
      },
    };
  };
}

/** Documents with more than `maxAliases` aliases are refused (MAX_ALIASES): aliases multiply work. */
export function maxAliasesRule(maxAliases: number): Rule {
  return (context) => {
    let aliases = 0;
    let reported = false;
    return {
      Field(field) {
        if (!field.alias || reported) return;
        aliases += 1;
        if (aliases > maxAliases) {
          reported = true;
          context.reportError(
            limitError(
              `the document uses more than ${maxAliases} aliases (MAX_ALIASES)`,
              field,
              'MAX_ALIASES',
            ),
          );
        }
      },
    };
  };
}

/**
 * Operations whose estimated cost exceeds `maxCost` are refused (MAX_QUERY_COST). Each field
 * costs 1 plus its selections times a multiplier: `first`/`last` for paginated fields (the
 * argument's default when not given, VARIABLE_PAGE when it is a variable), 10 for other lists,
 * 1 for lists inside a connection (already counted by `first`). See docs/limits.md.
 */
export function maxCostRule(maxCost: number): Rule {
  return (context) => {
    const fragments = fragmentsOf(context);
    const schema = context.getSchema();
    const costOf = (
      selectionSet: SelectionSetNode,
      parent: GraphQLNamedType | undefined,
      visiting: Set<string>,
    ): number => {
      let total = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          const definition = fieldOf(parent, selection.name.value);
          let multiplier = 1;
          if (definition) {
            const paging = selection.arguments?.find(
              (arg) => arg.name.value === 'first' || arg.name.value === 'last',
            );
            const pagingArg = definition.args.find((arg) => arg.name === 'first' || arg.name === 'last');
            if (pagingArg) multiplier = pageSize(paging?.value, pagingArg.defaultValue);
            else if (
              isListType(getNullableType(definition.type)) &&
              !parent?.name.endsWith('Connection') &&
              !isIntrospectionType(parent)
            )
              multiplier = LIST_FACTOR;
          }
          const below = selection.selectionSet
            ? costOf(selection.selectionSet, definition ? getNamedType(definition.type) : undefined, visiting)
            : 0;
          total += 1 + multiplier * below;
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          total += costOf(selection.selectionSet, type ?? undefined, visiting);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue;
          visiting.add(name);
          total += costOf(
            fragment.selectionSet,
            schema.getType(fragment.typeCondition.name.value) ?? undefined,
            visiting,
          );
          visiting.delete(name);
        }
        if (total > maxCost) return total;
      }
      return total;
    };
    return {
      OperationDefinition(operation) {
        const root = schema.getRootType(operation.operation) ?? undefined;
        const cost = costOf(operation.selectionSet, root, new Set());
        if (cost > maxCost) {
          context.reportError(
            limitError(
              `the operation's estimated cost exceeds ${maxCost} (MAX_QUERY_COST)`,
              operation,
              'MAX_QUERY_COST',
            ),
          );
        }
      },
    };
  };
}

/** A field's definition, introspection's `__schema` and `__type` on the query root included. */
function fieldOf(parent: GraphQLNamedType | undefined, name: string) {
  if (name === '__schema') return SchemaMetaFieldDef;
  if (name === '__type') return TypeMetaFieldDef;
  return parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
}

/**
 * Introspection's lists (`types`, `fields`, `args`, …) are as long as the schema makes them, not as
 * the caller asks, and are answered from memory: they count 1 each. Their cyclic nesting
 * (`ofType`, `fields { type { fields … } }`) is bounded by MAX_QUERY_DEPTH instead.
 */
function isIntrospectionType(type: GraphQLNamedType | undefined): boolean {
  return type?.name.startsWith('__') === true;
}

function pageSize(value: ValueNode | undefined, defaultValue: unknown): number {
  if (value?.kind === Kind.INT) return Math.max(1, Number(value.value));
  if (value?.kind === Kind.VARIABLE) return VARIABLE_PAGE;
  return typeof defaultValue === 'number' && defaultValue > 0 ? defaultValue : VARIABLE_PAGE;
}

/** INTROSPECTION=false: `__schema` and `__type` are refused; `__typename` stays. */
export const noIntrospectionRule: Rule = (context) => ({
  Field(field) {
    const name = field.name.value;
    if (name !== '__schema' && name !== '__type') return;
    context.reportError(
      new GraphQLError('introspection is turned off on this server (INTROSPECTION=false)', {
        nodes: [field],
        extensions: { code: ERROR_CODES.FORBIDDEN },
      }),
    );
  },
});
