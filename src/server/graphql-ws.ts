import type { ExecutionArgs, GraphQLError } from 'graphql';
import type { Disposable } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { type Logger, newCorrelationId } from '../log.ts';
import type { GraphQLContext } from '../schema/context.ts';

/** The per-operation executors yoga's envelop hands over, carried to execute/subscribe. */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
}

/**
 * graphql-ws on the same /graphql path as HTTP and SSE, executing through yoga's envelop so that
 * plugins, context and error masking are the same as for every other transport.
 */
export function createGraphqlWsServer(
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server context type is irrelevant here
  yoga: YogaServerInstance<any, GraphQLContext>,
  options: { log: Logger; maxPayloadBytes: number; maskError: (error: unknown) => Error },
): { server: WebSocketServer; dispose(): Promise<void> } {
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const disposable: Disposable = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onConnect: (ctx) => {
        const extra = ctx.extra as { correlationId?: string };
        extra.correlationId = newCorrelationId();
        options.log.debug({ correlationId: extra.correlationId }, 'graphql-ws connection');
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [options.maskError(error) as GraphQLError];
        }
        const errors = validate(schema, document);
        if (errors.length > 0)
          return errors.map((error: GraphQLError) => options.maskError(error) as GraphQLError);
        const root: EnvelopedRoot = { execute, subscribe };
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: root,
        };
      },
    },
    server,
  );
  return { server, dispose: () => Promise.resolve(disposable.dispose()) };
}
