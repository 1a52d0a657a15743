import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

/**
 * The names of the fields selected below `child` (a field of the resolved field's type) in the
 * operation being resolved, through fragments and whatever their directives say: a superset of
 * what the selection may read, for a resolver that fetches only that (replay reads only the
 * columns of the message fields selected).
 */
export function fieldsSelectedBelow(info: GraphQLResolveInfo, child: string): Set<string> {
  const names = new Set<string>();
  const below = (
    set: SelectionSetNode,
    visit: (name: string, node: SelectionSetNode | undefined) => void,
  ) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) visit(selection.name.value, selection.selectionSet);
      else {
        const fragment =
          selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
        if (fragment) below(fragment.selectionSet, visit);
      }
    }
  };
  for (const node of info.fieldNodes) {
    if (!node.selectionSet) continue;
    below(node.selectionSet, (name, set) => {
      if (name === child && set) below(set, (field) => names.add(field));
    });
  }
  return names;
}
