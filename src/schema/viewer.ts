import type { Viewer } from '../domain/viewer.ts';
import { builder } from './builder.ts';

const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  fields: (t) => ({
    userId: t.exposeID('userId'),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    roles: t.exposeStringList('roles'),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    nullable: true,
    description: 'The caller, as its token names it; null when unauthenticated.',
    resolve: (_root, _args, context) => context.viewer,
  }),
);
