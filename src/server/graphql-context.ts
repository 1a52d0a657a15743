import { WebSocket } from 'ws';
import type { Audience } from '../domain/audience.ts';
import type { GraphQLContext } from '../domain/resolver-context.ts';
import type { AppServices } from '../domain/services.ts';
import type { Viewer } from '../domain/viewer.ts';
import { isAppError } from '../errors.ts';
import { newCorrelationId } from '../log.ts';
import { withHttpStatus } from './auth/http-error.ts';
import { acceptsEventStream, tokenFromRequest } from './auth/token-source.ts';
import { lowWaterBytes, whenWritable } from './ws-writable.ts';

/** What yoga hands the context factory: an HTTP request, or a graphql-ws connection context. */
export interface InitialContext {
  readonly request?: Request;
  /**
   * The request's token, when the adapter already took it from where its transport carries it
   * (the monitor route: Bearer header or `?token=`); verified here as a header's is. Without it
   * the token is read from `request`.
   */
  readonly token?: string;
  readonly connectionParams?: Readonly<Record<string, unknown>>;
  /** graphql-ws: set by onConnect, once per connection (graphql-ws.ts); legacy sockets set their own. */
  readonly extra?: {
    readonly correlationId?: string;
    readonly viewer?: Viewer | null;
    /** The persistent connection (graphql-ws or legacy WebSocket) the operation came over. */
    readonly connectionId?: string;
    /** graphql-ws: the connection's socket. */
    readonly socket?: unknown;
    /** A subscription group's members, when the operation runs for a group. */
    readonly audience?: Audience;
    /** Pacing of a transport that is not a WebSocket (an SSE response): see GraphQLContext.whenWritable. */
    readonly whenWritable?: () => Promise<void> | undefined;
  };
}

/**
 * Builds the GraphQL context of one operation, whichever transport carried it. graphql-ws
 * verified its token once at connect; an HTTP request (and SSE, which may use `?token=`) is
 * verified here, and a bad token fails the whole request with UNAUTHENTICATED.
 */
export function createContextFactory(services: AppServices) {
  // Streams that follow the client's pace keep at most this much queued on its socket.
  const lowWater = lowWaterBytes(services.config.limits.maxClientBufferBytes);
  return async function buildContext(initial: InitialContext): Promise<GraphQLContext> {
    const correlationId =
      initial.extra?.correlationId ?? initial.request?.headers.get('x-request-id') ?? newCorrelationId();
    let viewer: Viewer | null = null;
    if (initial.extra && 'viewer' in initial.extra) viewer = initial.extra.viewer ?? null;
    else if (initial.request) {
      try {
        const token =
          initial.token ??
          tokenFromRequest(initial.request, { allowQuery: acceptsEventStream(initial.request) });
        viewer = await services.auth.identify(token);
      } catch (error) {
        throw isAppError(error) ? withHttpStatus(error) : error;
      }
    }
    return {
      services,
      viewer,
      correlationId,
      connectionId: initial.extra?.connectionId ?? null,
      ...(initial.extra?.audience ? { audience: initial.extra.audience } : {}),
      ...(initial.extra?.whenWritable
        ? { whenWritable: initial.extra.whenWritable }
        : initial.extra?.socket instanceof WebSocket
          ? { whenWritable: () => whenWritable(initial.extra?.socket as WebSocket, lowWater) }
          : {}),
      log: services.log.child({ correlationId, ...(viewer ? { userId: viewer.userId } : {}) }),
    };
  };
}
