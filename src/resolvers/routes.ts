import type { Route } from '../domain/routes/route-matching.ts';
import type { RouteInput } from '../domain/routes/route-service.ts';
import type { GraphQLContext } from '../schema/context.ts';

/** Query.routes. */
export function listRoutes(context: GraphQLContext): Promise<Route[]> {
  return context.services.routes.list();
}

/** node(id) for a Route. */
export async function findRoute(id: string, context: GraphQLContext): Promise<Route | null> {
  return (await context.services.routes.table()).routes.find((route) => route.id === id) ?? null;
}

/** Mutation.setRoute. */
export function setRoute(input: RouteInput, context: GraphQLContext): Promise<Route> {
  return context.services.routes.set(input);
}

/** Mutation.deleteRoute. */
export function deleteRoute(id: string, context: GraphQLContext): Promise<boolean> {
  return context.services.routes.delete(id);
}
