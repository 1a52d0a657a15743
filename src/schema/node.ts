import type { GraphQLContext } from '../domain/resolver-context.ts';
import { builder } from './builder.ts';

/**
 * Node ids are the objects' own global ids (states and devices keep the ids that appear in
 * legacy subjects; generated ids carry a type prefix), so `node(id)` asks each registered type
 * in turn. Each domain file registers its type with `registerNode`.
 */
interface NodeLoader {
  readonly typename: string;
  load(id: string, context: GraphQLContext): Promise<object | null>;
}

const loaders: NodeLoader[] = [];
const typenames = new WeakMap<object, string>();

export function registerNode(typename: string, load: NodeLoader['load']): void {
  loaders.push({ typename, load });
}

export const NodeRef = builder.interfaceRef<{ id: string }>('Node').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
  resolveType: (value) => typenames.get(value) ?? null,
});

builder.queryField('node', (t) =>
  t.field({
    type: NodeRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => {
      for (const loader of loaders) {
        const found = await loader.load(id, context);
        if (found) {
          typenames.set(found, loader.typename);
          return found as { id: string };
        }
      }
      return null;
    },
  }),
);
