import { resolveServerTime } from '../resolvers/server-time.ts';
import { builder } from './builder.ts';

builder.subscriptionField('serverTime', (t) =>
  t.field({
    type: 'DateTime',
    description: 'The server clock, at once and then every `every`: a liveness probe for clients.',
    args: { every: t.arg({ type: 'Duration', required: true }) },
    subscribe: (_root, { every }, context) => resolveServerTime(context, every),
    resolve: (tick: Date) => tick,
  }),
);
