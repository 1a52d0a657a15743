import type { GraphQLContext } from '../domain/resolver-context.ts';
import type { Route } from '../domain/routes/route-matching.ts';
import type { RouteInput } from '../domain/routes/route-service.ts';

/** Query.routes. */
export function resolveRoutes(context: GraphQLContext): Promise<Route[]> {
  return context.services.routes.list();
}

/** node(id) for a Route. */
export function resolveRoute(context: GraphQLContext, id: string): Promise<Route | null> {
  return context.services.routes.find(id);
}

/** Mutation.setRoute. */
export function resolveSetRoute(context: GraphQLContext, input: RouteInput): Promise<Route> {
  return context.services.routes.set(input);
}

/** Mutation.deleteRoute. */
export function resolveDeleteRoute(context: GraphQLContext, id: string): Promise<boolean> {
  return context.services.routes.delete(id);
}
