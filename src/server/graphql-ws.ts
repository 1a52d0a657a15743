import { randomUUID } from 'node:crypto';
import type { ExecutionArgs, GraphQLError, GraphQLFormattedError } from 'graphql';
import { handleProtocols, makeServer } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { AuthService } from '../domain/auth/auth-service.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../domain/limits/connection-limiter.ts';
import { tenantOf, type Viewer } from '../domain/viewer.ts';
import { ERROR_CODES, isAppError, LimitExceededError } from '../errors.ts';
import type { LimitsConfig } from '../limits-config.ts';
import { type Logger, newCorrelationId } from '../log.ts';
import type { GraphQLContext } from '../schema/context.ts';
import { operationViewer } from './auth/operation-token.ts';
import { selectedOperation } from './auth/root-fields.ts';
import { onTokenExpiry } from './auth/token-expiry-plugin.ts';
import { tokenFromAuthorization, tokenFromConnectionParams } from './auth/token-source.ts';
import { CLOSE_CODES, closeReason } from './close-codes.ts';
import { type SocketExtra, serveGraphqlWs } from './graphql-ws-socket.ts';
import {
  createSubscriptionSlots,
  holdingSlot,
  type SubscriptionSlots,
  subscriptionLimitError,
} from './limits/subscription-slots.ts';

/** The per-operation executors yoga's envelop hands over, carried to execute/subscribe. */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
}

/** What streamgate keeps per graphql-ws connection, beside graphql-ws's own socket and request. */
interface ConnectionExtra extends SocketExtra {
  correlationId?: string;
  /** Set once at connect: the token's Viewer, or null for an anonymous caller. */
  viewer?: Viewer | null;
  /** Names the connection, so a data-source provider's answers are told from another's. */
  connectionId?: string;
  /** MAX_SUBSCRIPTIONS_PER_CONNECTION, set at connect. */
  subscriptionSlots?: SubscriptionSlots;
}

/**
 * graphql-ws on the same /graphql path as HTTP and SSE, executing through yoga's envelop so that
 * plugins, context and error masking are the same as for every other transport. The token is
 * verified once, at `connection_init`: a bad one closes the socket with 4403 before any data,
 * and the socket is closed with 4403 when the token expires.
 */
export function createGraphqlWsServer(
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server context type is irrelevant here
  yoga: YogaServerInstance<any, GraphQLContext>,
  options: {
    log: Logger;
    maxPayloadBytes: number;
    maskError: (error: unknown) => Error;
    auth: AuthService;
    limiter: ConnectionLimiter;
    limits: LimitsConfig;
    /** Counts a refusal or cut-off by the limit's name (limit_refusals_total). */
    onRefused: (limit: string) => void;
  },
): { server: WebSocketServer; dispose(): Promise<void> } {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    handleProtocols,
  });
  const { limits } = options;
  const graphqlWs = makeServer<Record<string, unknown> | undefined, SocketExtra>({
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onConnect: async (ctx) => {
      const extra = ctx.extra as unknown as ConnectionExtra;
      extra.correlationId = newCorrelationId();
      extra.connectionId = randomUUID();
      const log = options.log.child({ correlationId: extra.correlationId });
      let viewer: Viewer | null;
      try {
        const token =
          tokenFromConnectionParams(ctx.connectionParams) ??
          tokenFromAuthorization(extra.request.headers.authorization);
        viewer = await options.auth.identify(token);
      } catch (error) {
        const refused = isAppError(error) && error.code === ERROR_CODES.UNAUTHENTICATED;
        log.info({ reason: isAppError(error) ? error.message : 'internal' }, 'graphql-ws connection refused');
        if (!isAppError(error)) log.error({ err: error }, 'authentication failed');
        // Closed here with the reason; graphql-ws's own close for `false` is then a no-op.
        extra.socket.close(
          refused ? CLOSE_CODES.UNAUTHENTICATED : CLOSE_CODES.UNAVAILABLE,
          closeReason(
            isAppError(error) ? `${error.code}: ${error.message}` : 'INTERNAL: authentication failed',
          ),
        );
        return false;
      }
      try {
        const lease = options.limiter.acquire({
          kind: CONNECTION_KINDS.WEBSOCKET,
          userId: viewer?.userId ?? null,
          tenantId: tenantOf(viewer),
        });
        // The client may have gone while the token was verified; then 'close' has fired already.
        if (extra.socket.readyState !== extra.socket.OPEN) {
          lease.release();
          return false;
        }
        extra.socket.once('close', () => lease.release());
      } catch (error) {
        if (!(error instanceof LimitExceededError)) throw error;
        options.onRefused(String(error.details?.limit ?? 'connections'));
        extra.socket.close(CLOSE_CODES.LIMIT_EXCEEDED, closeReason(`${error.code}: ${error.message}`));
        return false;
      }
      extra.viewer = viewer;
      extra.subscriptionSlots = createSubscriptionSlots(limits.maxSubscriptionsPerConnection);
      extra.activeIds = () => Object.keys(ctx.subscriptions);
      if (viewer?.expiresAt !== undefined) {
        const cancel = onTokenExpiry(viewer.expiresAt, () => {
          log.info('graphql-ws token expired');
          extra.socket.close(
            CLOSE_CODES.UNAUTHENTICATED,
            closeReason(
              `UNAUTHENTICATED: token expired at ${new Date(viewer.expiresAt as number).toISOString()}`,
            ),
          );
        });
        extra.socket.once('close', cancel);
      }
      log.debug({ userId: viewer?.userId }, 'graphql-ws connection');
      return true;
    },
    // `extensions.http` tells yoga the HTTP status; it means nothing on a socket.
    onNext: (_ctx, _id, _payload, _args, result) =>
      result.errors ? { ...result, errors: result.errors.map(withoutHttpExtension) } : undefined,
    onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttpExtension),
    onSubscribe: async (ctx, _id, payload) => {
      // GraphiQL's Headers tab arrives per operation, not in connection_init.
      const own = await operationViewer(options.auth, payload.extensions);
      if (own && 'error' in own) return [own.error];
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        ...(own ? { extra: { ...ctx.extra, viewer: own.viewer } } : {}),
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
      const contextValue = await contextFactory();
      const root: EnvelopedRoot = { execute, subscribe };
      if (isSubscription(document, payload.operationName)) {
        // Reserved here, in one synchronous step with the check, and held while the stream runs.
        const slot = (ctx.extra as ConnectionExtra).subscriptionSlots?.tryReserve();
        if (!slot) {
          options.onRefused('MAX_SUBSCRIPTIONS_PER_CONNECTION');
          return [subscriptionLimitError(limits.maxSubscriptionsPerConnection)];
        }
        root.subscribe = holdingSlot(subscribe, slot);
      }
      return {
        schema,
        operationName: payload.operationName,
        document,
        variableValues: payload.variables,
        contextValue,
        rootValue: root,
      };
    },
  });
  serveGraphqlWs(graphqlWs, server, {
    log: options.log,
    maxSockets: limits.maxWsConnections,
    maxBufferedBytes: limits.maxClientBufferBytes,
    messageRate: limits.messageRate,
    messageBurst: limits.messageBurst,
    onRefused: options.onRefused,
  });
  return {
    server,
    async dispose() {
      for (const client of server.clients) client.close(CLOSE_CODES.GOING_AWAY, 'Going away');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function withoutHttpExtension(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const formatted =
    'toJSON' in error && typeof error.toJSON === 'function'
      ? error.toJSON()
      : (error as GraphQLFormattedError);
  if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
  const { http: _http, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}

function isSubscription(
  document: Parameters<typeof selectedOperation>[0],
  operationName: string | null | undefined,
): boolean {
  return selectedOperation(document, operationName)?.operation === 'subscription';
}
