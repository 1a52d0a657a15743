import type { State, StateEntry } from '../domain/states/state-service.ts';
import type { StateEvent } from '../domain/states/state-stream.ts';
import {
  resolveCreateState,
  resolvePublishStateEntries,
  resolveState,
  resolveStateEntries,
  resolveStateEntry,
  resolveStateEntryCount,
  resolveStateRoutes,
  resolveStateStream,
  resolveStates,
} from '../resolvers/states.ts';
import { builder } from './builder.ts';
import { connectionOf } from './connection.ts';
import { NodeRef, registerNode } from './node.ts';
import { PublishResultRef } from './publish-result.ts';
import { RouteRef } from './routes.ts';

export const StateEntryRef = builder.objectRef<StateEntry>('StateEntry').implement({
  description: 'One persisted entry of a state.',
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    stateId: t.exposeID('stateId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    seq: t.float({
      description: 'Position of the entry in its state: 1, 2, 3, … in the order they were persisted.',
      resolve: (entry) => Number(entry.seq),
    }),
    data: t.field({ type: 'JSONObject', resolve: (entry) => entry.data }),
    createdAt: t.field({ type: 'DateTime', resolve: (entry) => entry.createdAt }),
  }),
});

const StateEntryConnectionRef = connectionOf('StateEntry', StateEntryRef, { totalCount: true });

export const StateRef = builder.objectRef<State>('State').implement({
  description: 'A state of the ISM network. Its id is one token of the broker subject processor.state.{id}.',
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (state) => state.createdAt }),
    entryCount: t.int({ resolve: (state, _args, context) => resolveStateEntryCount(context, state.id) }),
    entries: t.field({
      type: StateEntryConnectionRef,
      description: 'Entries of this state, oldest first; sessionId narrows to one session.',
      args: {
        sessionId: t.arg.id(),
        first: t.arg.int({ defaultValue: 100 }),
        after: t.arg.string(),
      },
      resolve: (state, args, context) => resolveStateEntries(context, state.id, args),
    }),
    routes: t.field({
      type: [RouteRef],
      description: 'Routes whose selector matches this state.',
      resolve: (state, _args, context) => resolveStateRoutes(context, state.id),
    }),
  }),
});

const StateConnectionRef = connectionOf('State', StateRef);

registerNode('State', (id, context) => resolveState(context, id));
registerNode('StateEntry', (id, context) =>
  id.startsWith('entry:') ? resolveStateEntry(context, id) : Promise.resolve(null),
);

const StateEventRef = builder.objectRef<StateEvent>('StateEvent').implement({
  description: "One message on a state's stream: entries published here or by any processor on the network.",
  fields: (t) => ({
    stateId: t.exposeID('stateId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    type: t.exposeString('type', {
      description:
        'The message type as the network names it, e.g. query_state_entry; "text" for a plain-text frame.',
    }),
    data: t.field({
      type: 'JSON',
      description: 'The parsed JSON message, or the text of a plain-text frame.',
      resolve: (event) => event.data,
    }),
    timestamp: t.field({
      type: 'DateTime',
      description: 'When the broker accepted the message.',
      resolve: (event) => event.timestamp,
    }),
    raw: t.exposeString('raw', {
      description:
        'The message exactly as it was on the broker (UTF-8 text). The legacy /ws/stream routes send this, unchanged.',
    }),
  }),
});

const CreateStateInputRef = builder.inputType('CreateStateInput', {
  fields: (t) => ({
    id: t.id({
      description: 'One subject token (no dots, "*", ">" or white space); generated when omitted.',
    }),
    name: t.string(),
  }),
});

builder.queryFields((t) => ({
  state: t.field({
    type: StateRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => resolveState(context, id),
  }),
  states: t.field({
    type: StateConnectionRef,
    args: { first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
    resolve: (_root, { first, after }, context) => resolveStates(context, first, after),
  }),
  stateEntries: t.field({
    type: StateEntryConnectionRef,
    description: 'Entries of a state, oldest first; sessionId narrows to one session.',
    args: {
      stateId: t.arg.id({ required: true }),
      sessionId: t.arg.id(),
      first: t.arg.int({ defaultValue: 100 }),
      after: t.arg.string(),
    },
    resolve: (_root, { stateId, ...args }, context) => resolveStateEntries(context, stateId, args),
  }),
}));

builder.mutationFields((t) => ({
  createState: t.field({
    type: StateRef,
    description:
      "Creates a state owned by the caller's tenant. BAD_USER_INPUT when the id is taken or not one token.",
    args: { input: t.arg({ type: CreateStateInputRef, required: true }) },
    resolve: (_root, { input }, context) => resolveCreateState(context, input),
  }),
  publishStateEntries: t.field({
    type: PublishResultRef,
    description: `State sync store: persists the entries (all or none), publishes them on the state's stream
(and the session's, when sessionId is given) and forwards them along every matching route.
When the broker is away the entries stay persisted and the error is UNAVAILABLE: they are published
as soon as it is back.`,
    args: {
      stateId: t.arg.id({ required: true }),
      sessionId: t.arg.id(),
      entries: t.arg({ type: ['JSONObject'], required: true }),
    },
    resolve: (_root, args, context) => resolvePublishStateEntries(context, args),
  }),
}));

builder.subscriptionField('stateStream', (t) =>
  t.field({
    type: StateEventRef,
    description: `Live events of a state (every session), or of one session when sessionId is given.
Every message on the exact subject processor.state.{stateId} (or processor.state.{stateId}.{sessionId}),
from any producer: publishStateEntries puts a session's entries on both, while a message that another
producer puts only on a session's subject reaches that session's subscribers alone.`,
    args: { stateId: t.arg.id({ required: true }), sessionId: t.arg.id() },
    subscribe: (_root, { stateId, sessionId }, context) => resolveStateStream(context, stateId, sessionId),
    resolve: (event: StateEvent) => event,
  }),
);
