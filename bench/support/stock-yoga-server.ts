/**
 * Baseline (b) of bench/fanout.ts and bench/idle-connections.ts: a stock graphql-yoga server
 * with graphql-ws and yoga's `createPubSub`, written as yoga's documentation says
 * (the-guild.dev/graphql/yoga-server/docs/features/subscriptions: "GraphQL over WebSocket
 * Protocol" for the graphql-ws wiring through `yoga.getEnveloped`, "Filter and Map Values"
 * for `pipe(pubSub.subscribe(...), filter(...))`). Nothing tuned: it is what a new user builds.
 *
 * The schema mirrors what the benchmark selects from streamgate:
 * `deviceMessages(deviceId) { seq timestamp data }` and `topicMessages(key) { key data timestamp }`.
 * Publishing: `POST /publish/device/{deviceId}` and `POST /publish/topic`, each a JSON array
 * of events, published one by one (streamgate's `POST /monitor/{device}` takes batches alike).
 *
 *   PORT=0 node --import tsx bench/support/stock-yoga-server.ts   → prints "LISTENING <port>"
 */
import { createServer } from 'node:http';
import { GraphQLScalarType } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema, createYoga, filter, pipe } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { listenAsBaseline } from './baseline-listen.ts';

interface DeviceEvent {
  readonly deviceId: string;
  readonly seq: number;
  readonly timestamp: string;
  readonly data: unknown;
}
interface TopicEvent {
  readonly key: string;
  readonly timestamp: string;
  readonly data: unknown;
}

const pubSub = createPubSub<{
  deviceMessages: [payload: DeviceEvent];
  topicMessages: [payload: TopicEvent];
}>();

const yoga = createYoga({
  graphiql: false,
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      scalar JSON
      type Query {
        hello: String
      }
      type DeviceMessage {
        deviceId: ID!
        seq: Float!
        timestamp: String!
        data: JSON!
      }
      type TopicMessage {
        key: String!
        timestamp: String!
        data: JSON!
      }
      type Subscription {
        deviceMessages(deviceId: ID!): DeviceMessage!
        topicMessages(key: String!): TopicMessage!
      }
    `,
    resolvers: {
      JSON: new GraphQLScalarType({ name: 'JSON', serialize: (value) => value }),
      Query: { hello: () => 'world' },
      Subscription: {
        deviceMessages: {
          subscribe: (_: unknown, args: { deviceId: string }) =>
            pipe(
              pubSub.subscribe('deviceMessages'),
              filter((payload: DeviceEvent) => payload.deviceId === args.deviceId),
            ),
          resolve: (payload: DeviceEvent) => payload,
        },
        topicMessages: {
          subscribe: (_: unknown, args: { key: string }) =>
            pipe(
              pubSub.subscribe('topicMessages'),
              filter((payload: TopicEvent) => payload.key === args.key),
            ),
          resolve: (payload: TopicEvent) => payload,
        },
      },
    },
  }),
});

const sequences = new Map<string, number>();

async function readJson(request: import('node:http').IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const httpServer = createServer((request, response) => {
  const url = request.url ?? '';
  if (request.method === 'POST' && url.startsWith('/publish/')) {
    readJson(request).then(
      (body) => {
        const events = body as Array<{ timestamp: string; data: unknown; key?: string }>;
        if (url === '/publish/topic') {
          for (const event of events)
            pubSub.publish('topicMessages', {
              key: event.key as string,
              timestamp: event.timestamp,
              data: event.data,
            });
        } else {
          const deviceId = decodeURIComponent(url.slice('/publish/device/'.length));
          let seq = sequences.get(deviceId) ?? 0;
          for (const event of events)
            pubSub.publish('deviceMessages', {
              deviceId,
              seq: ++seq,
              timestamp: event.timestamp,
              data: event.data,
            });
          sequences.set(deviceId, seq);
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(`{"accepted":${events.length}}`);
      },
      (error: unknown) => response.writeHead(400).end(String(error)),
    );
    return;
  }
  yoga(request, response);
});

const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });

// As in yoga's docs: graphql-ws runs operations through yoga's envelop.
useServer(
  {
    // biome-ignore lint/suspicious/noExplicitAny: the documented wiring passes envelop's args through
    execute: (args: any) => args.rootValue.execute(args),
    // biome-ignore lint/suspicious/noExplicitAny: as above
    subscribe: (args: any) => args.rootValue.subscribe(args),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      });
      const args = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      if (errors.length) return errors;
      return args;
    },
  },
  wsServer,
);

listenAsBaseline(httpServer, wsServer);
