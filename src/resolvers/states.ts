import type { Page } from '../domain/pagination.ts';
import type { GraphQLContext } from '../domain/resolver-context.ts';
import type { Route } from '../domain/routes/route-matching.ts';
import type { PublishResult, State, StateEntry } from '../domain/states/state-service.ts';
import type { StateEvent } from '../domain/states/state-stream.ts';
import { tenantOf } from '../domain/viewer.ts';

/** Mutation.createState. */
export function resolveCreateState(
  context: GraphQLContext,
  input: { id?: string | null; name?: string | null },
): Promise<State> {
  return context.services.states.create(input, tenantOf(context.viewer));
}

/** Query.state and node(id): null for an unknown or foreign state. */
export function resolveState(context: GraphQLContext, id: string): Promise<State | null> {
  return context.services.states.find(id, tenantOf(context.viewer));
}

/** Query.states. */
export function resolveStates(
  context: GraphQLContext,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<State>> {
  return context.services.states.list(first, after, tenantOf(context.viewer));
}

/** Query.stateEntries and State.entries. */
export function resolveStateEntries(
  context: GraphQLContext,
  stateId: string,
  args: { sessionId?: string | null; first?: number | null; after?: string | null },
): Promise<Page<StateEntry>> {
  return context.services.states.entries(stateId, args, tenantOf(context.viewer));
}

/** node(id) for a StateEntry. */
export function resolveStateEntry(context: GraphQLContext, id: string): Promise<StateEntry | null> {
  return context.services.states.findEntry(id, tenantOf(context.viewer));
}

/** State.entryCount. */
export function resolveStateEntryCount(context: GraphQLContext, stateId: string): Promise<number> {
  return context.services.states.entryCount(stateId, tenantOf(context.viewer));
}

/** State.routes. */
export function resolveStateRoutes(context: GraphQLContext, stateId: string): Promise<Route[]> {
  return context.services.states.routesOf(stateId);
}

/** Mutation.publishStateEntries. */
export function resolvePublishStateEntries(
  context: GraphQLContext,
  args: { stateId: string; sessionId?: string | null; entries: readonly unknown[] },
): Promise<PublishResult> {
  return context.services.states.publish(
    args.stateId,
    args.sessionId ?? null,
    args.entries,
    tenantOf(context.viewer),
  );
}

/** Subscription.stateStream. */
export function resolveStateStream(
  context: GraphQLContext,
  stateId: string,
  sessionId: string | null | undefined,
): Promise<AsyncIterableIterator<StateEvent>> {
  return context.services.states.stream(stateId, sessionId ?? null, tenantOf(context.viewer));
}
