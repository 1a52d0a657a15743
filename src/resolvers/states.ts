import type { Page } from '../domain/pagination.ts';
import type { Route } from '../domain/routes/route-matching.ts';
import type { PublishResult, State, StateEntry } from '../domain/states/state-service.ts';
import type { StateEvent } from '../domain/states/state-stream.ts';
import { tenantOf } from '../domain/viewer.ts';
import type { GraphQLContext } from '../schema/context.ts';

/** Mutation.createState. */
export function createState(
  input: { id?: string | null; name?: string | null },
  context: GraphQLContext,
): Promise<State> {
  return context.services.states.create(input, tenantOf(context.viewer));
}

/** Query.state and node(id): null for an unknown or foreign state. */
export function findState(id: string, context: GraphQLContext): Promise<State | null> {
  return context.services.states.find(id, tenantOf(context.viewer));
}

/** Query.states. */
export function listStates(
  first: number | null | undefined,
  after: string | null | undefined,
  context: GraphQLContext,
): Promise<Page<State>> {
  return context.services.states.list(first, after, tenantOf(context.viewer));
}

/** Query.stateEntries and State.entries. */
export function listStateEntries(
  stateId: string,
  args: { sessionId?: string | null; first?: number | null; after?: string | null },
  context: GraphQLContext,
): Promise<Page<StateEntry>> {
  return context.services.states.entries(stateId, args, tenantOf(context.viewer));
}

/** node(id) for a StateEntry. */
export function findStateEntry(id: string, context: GraphQLContext): Promise<StateEntry | null> {
  return context.services.states.findEntry(id, tenantOf(context.viewer));
}

/** State.entryCount. */
export function countStateEntries(stateId: string, context: GraphQLContext): Promise<number> {
  return context.services.states.entryCount(stateId);
}

/** State.routes. */
export function routesOfState(stateId: string, context: GraphQLContext): Promise<Route[]> {
  return context.services.states.routesOf(stateId);
}

/** Mutation.publishStateEntries. */
export function publishStateEntries(
  args: { stateId: string; sessionId?: string | null; entries: readonly unknown[] },
  context: GraphQLContext,
): Promise<PublishResult> {
  return context.services.states.publish(
    args.stateId,
    args.sessionId ?? null,
    args.entries,
    tenantOf(context.viewer),
  );
}

/** Subscription.stateStream. */
export function stateStream(
  stateId: string,
  sessionId: string | null | undefined,
  context: GraphQLContext,
): Promise<AsyncIterableIterator<StateEvent>> {
  return context.services.states.stream(stateId, sessionId ?? null, tenantOf(context.viewer));
}
