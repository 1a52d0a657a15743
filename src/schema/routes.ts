import { ROUTE_ORIGIN, type Route } from '../domain/routes/route-matching.ts';
import { resolveDeleteRoute, resolveRoute, resolveRoutes, resolveSetRoute } from '../resolvers/routes.ts';
import { builder } from './builder.ts';
import { NodeRef, registerNode } from './node.ts';

const RouteOriginRef = builder.enumType('RouteOrigin', {
  description: 'Where a route comes from.',
  values: {
    FILE: { value: ROUTE_ORIGIN.FILE, description: 'The routing file (ROUTING_FILE), loaded at start-up.' },
    API: { value: ROUTE_ORIGIN.API, description: 'setRoute.' },
  } as const,
});

export const RouteRef = builder.objectRef<Route>('Route').implement({
  description: `Forwards the entries of every state whose id matches \`selector\` to \`subject\`.
Selectors use the broker's wildcards: * one token, > the rest.
The legacy form with "/" is accepted too: a trailing "/*" matches by prefix, at any depth (docs/ism.md).`,
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    selector: t.exposeString('selector'),
    subject: t.exposeString('subject'),
    name: t.exposeString('name', { nullable: true }),
    origin: t.field({ type: RouteOriginRef, resolve: (route) => route.origin }),
    createdAt: t.field({ type: 'DateTime', resolve: (route) => route.createdAt }),
  }),
});

registerNode('Route', (id, context) => resolveRoute(context, id));

const RouteInputRef = builder.inputType('RouteInput', {
  fields: (t) => ({
    id: t.id({ description: 'Replaces the route with this id; a new id is generated when omitted.' }),
    selector: t.string({ required: true }),
    subject: t.string({ required: true, description: 'A concrete broker subject (no wildcards).' }),
    name: t.string(),
  }),
});

builder.queryField('routes', (t) =>
  t.field({
    type: [RouteRef],
    description: 'The routing table of the state router.',
    resolve: (_root, _args, context) => resolveRoutes(context),
  }),
);

builder.mutationFields((t) => ({
  setRoute: t.field({
    type: RouteRef,
    description: 'Creates or replaces a route. BAD_USER_INPUT for a bad selector or subject.',
    args: { input: t.arg({ type: RouteInputRef, required: true }) },
    resolve: (_root, { input }, context) => resolveSetRoute(context, input),
  }),
  deleteRoute: t.field({
    type: 'Boolean',
    description: 'True when the route was deleted, false when there was no route with this id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => resolveDeleteRoute(context, id),
  }),
}));
