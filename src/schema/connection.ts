import type { ObjectRef } from '@pothos/core';
import type { Page } from '../domain/pagination.ts';
import { builder, type SchemaTypes } from './builder.ts';

export const PageInfoRef = builder.objectRef<Page<unknown>['pageInfo']>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

/**
 * Defines `<Name>Connection` and `<Name>Edge` for a node type, Relay style. `totalCount` is
 * added where the contract has it.
 */
export function connectionOf<Node>(
  name: string,
  nodeRef: ObjectRef<SchemaTypes, Node>,
  options: { totalCount?: boolean } = {},
): ObjectRef<SchemaTypes, Page<Node>> {
  const edgeRef = builder.objectRef<Page<Node>['edges'][number]>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      // Pothos cannot see through the generic Node here; the ref and the value agree by construction.
      node: t.field({ type: nodeRef, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Page<Node>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edgeRef], resolve: (page) => page.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (page) => page.pageInfo }),
      ...(options.totalCount
        ? {
            totalCount: t.int({
              resolve: async (page) =>
                typeof page.totalCount === 'function' ? page.totalCount() : (page.totalCount ?? 0),
            }),
          }
        : {}),
    }),
  });
}
