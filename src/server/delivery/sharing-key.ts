import { type DocumentNode, Kind, type ValueNode } from 'graphql';
import type { Viewer } from '../../domain/viewer.ts';
import type { ParsedOperation } from '../operation-runner.ts';

/**
 * Root subscription fields whose stream is the same for every caller of the same scope and
 * starts with nothing a later joiner would miss: live feeds of the broker. The test says which
 * arguments would make a stream personal (a resume position). serverTime ticks at once on start,
 * replay paces itself to one client, a data-source subscription makes its connection a provider:
 * those always run alone.
 */
const SHAREABLE_FIELDS: Readonly<Record<string, (argument: (name: string) => unknown) => boolean>> = {
  deviceMessages: () => true,
  stateStream: () => true,
  topicMessages: (argument) => argument('after') == null,
};

const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

/**
 * The key under which subscriptions share one source stream and one execution per event
 * (DESIGN.md decision 4), or null when this one must run alone. Equal keys mean equal document,
 * operation, variables and the part of the viewer resolvers can see: anonymous or not, the
 * tenant (every object is scoped by it) and the roles (topic entitlements and the auth guard
 * decide on them). Two viewers that may see different data never get the same key.
 */
export function sharingKey(
  parsed: ParsedOperation,
  source: string | DocumentNode,
  viewer: Viewer | null,
): string | null {
  if (parsed.kind !== 'subscription') return null;
  const selections = parsed.operation.selectionSet.selections;
  const field = selections[0];
  // Fragments, directives and several selections are legal but rare: run those alone.
  if (selections.length !== 1 || field?.kind !== Kind.FIELD || (field.directives?.length ?? 0) > 0)
    return null;
  const shareable = SHAREABLE_FIELDS[field.name.value];
  if (!shareable) return null;
  const argument = (name: string) => {
    const node = field.arguments?.find((candidate) => candidate.name.value === name)?.value;
    return node ? argumentValue(node, parsed) : undefined;
  };
  if (!shareable(argument)) return null;
  let documentKey: string;
  if (typeof source === 'string') documentKey = source;
  else {
    let id = documentIds.get(source);
    if (id === undefined) {
      id = nextDocumentId++;
      documentIds.set(source, id);
    }
    documentKey = `#${id}`;
  }
  const scope = viewer === null ? 'anonymous' : JSON.stringify([viewer.tenantId, [...viewer.roles].sort()]);
  return `${scope}\u0000${parsed.operationName ?? ''}\u0000${JSON.stringify(parsed.variables)}\u0000${documentKey}`;
}

/** A literal's value, or a variable's (or its default); only null-ness matters to the sharing rules. */
function argumentValue(node: ValueNode, parsed: ParsedOperation): unknown {
  if (node.kind === Kind.NULL) return null;
  if (node.kind !== Kind.VARIABLE) return node;
  const name = node.name.value;
  if (name in parsed.variables) return parsed.variables[name];
  const definition = parsed.operation.variableDefinitions?.find(
    (candidate) => candidate.variable.name.value === name,
  );
  return definition?.defaultValue ? argumentValue(definition.defaultValue, parsed) : undefined;
}
