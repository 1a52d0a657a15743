import { randomUUID } from 'node:crypto';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { serializeResult } from '../delivery/subscription-groups.ts';
import type { HttpRoute } from '../http-routes.ts';
import { isResultStream, type RunContext } from '../operation-runner.ts';
import { type EventStream, serverResponseOf } from '../sse/event-stream.ts';
import { createSseDelivery, type SseDeliveryOptions } from '../sse/sse-delivery.ts';
import {
  DISTINCT_FRAMING,
  operationFraming,
  type SseFraming,
  type SseSubscription,
} from '../sse/sse-subscription.ts';
import {
  acceptOf,
  EVENT_STREAM_HEADERS,
  emptyAnswer,
  type GraphqlSseParams,
  protocolError,
  readParams,
  streamTokenOf,
} from './protocol.ts';
import { type StreamOperation, StreamReservations } from './stream-reservations.ts';

/** Where graphql-sse clients in single-connection mode (and distinct mode too) connect. */
export const GRAPHQL_SSE_PATH = '/graphql/stream';

export interface GraphqlSseRouteOptions extends SseDeliveryOptions {
  readonly maskError: (error: unknown) => Error;
  /** How long a reservation waits for its `GET`. @default RESERVATION_TIMEOUT_MS */
  readonly reservationTimeoutMs?: number;
}

/** Where one operation's answer goes: a stream of its own, or its id on a reserved stream. */
interface OperationTarget {
  readonly stream: EventStream;
  readonly framing: SseFraming;
  /** Distinct connections: the operation is the whole response. */
  readonly endsStream: boolean;
  /** True once the client stopped the operation (or went away) while it started. */
  cancelled(): boolean;
  /** The operation is over: its result sent, or its subscription ended. */
  readonly onEnd: () => void;
}

/** The graphql-sse route and its reserved streams (ended at shutdown). */
export interface GraphqlSseRoute extends HttpRoute {
  readonly reservations: StreamReservations;
  /** Ends every reserved stream (their subscriptions completed through their groups first). */
  dispose(): void;
}

/**
 * The graphql-sse protocol on /graphql/stream, both modes, on our own SSE delivery: single
 * connection (`PUT` reserves a stream and returns its token, `GET` with
 * `X-GraphQL-Event-Stream-Token` opens it, `POST` operations run on it under their
 * `extensions.operationId`, `DELETE ?operationId=` stops one) and distinct connections (`GET` or
 * `POST` with `Accept: text/event-stream` and no reservation: one operation per stream).
 *
 * Every operation goes through the execution seam (operation-runner.ts); a subscription joins its
 * subscription group (sse-delivery.ts): one execution and one serialization per event per group,
 * the connection slot, gauge, /stats and token expiry attached at its start and end, shutdown
 * through the groups. Events are written per tick, bounded by MAX_CLIENT_BUFFER (event-stream.ts).
 * Status codes, bodies and event framing are graphql-sse's (protocol.ts); anything refused once
 * the request is accepted (a bad token, a limit, a parse error) is a `next` with the error, then
 * `complete`, as graphql-sse answers its `onSubscribe` results.
 */
export function graphqlSseRoute(options: GraphqlSseRouteOptions): GraphqlSseRoute {
  const { runner, streams, maskError } = options;
  const delivery = createSseDelivery(options);
  const reservations = new StreamReservations(streams, options.reservationTimeoutMs);

  /**
   * Runs one operation onto its target: a subscription comes back once it joined its group;
   * 'answered' when the one result (or the refusal) is sent; 'cancelled' when it was stopped first.
   */
  async function startOperation(
    request: Request,
    params: GraphqlSseParams,
    target: OperationTarget,
  ): Promise<SseSubscription | 'answered' | 'cancelled'> {
    const answer = (result: ExecutionResult): 'answered' | 'cancelled' => {
      if (target.cancelled()) return 'cancelled';
      const frames = `${target.framing.own(serializeResult(result))}${target.framing.complete}`;
      if (target.endsStream) target.stream.end(frames);
      else target.stream.send(frames);
      target.onEnd();
      return 'answered';
    };
    const initial = { request, params } as RunContext;
    const parsed = runner.parse(
      { query: params.query, operationName: params.operationName, variables: params.variables },
      initial,
    );
    if ('errors' in parsed) return answer({ errors: parsed.errors });
    try {
      if (parsed.kind !== 'subscription') {
        const result = await runner.run(parsed, initial);
        if (isResultStream(result)) throw new Error(`a ${parsed.kind} answered a stream`);
        return answer(result);
      }
      // Who the request is (a bad token throws), then its SSE connection slot (a limit throws).
      const context = await options.buildContext(initial);
      const close = delivery.openConnection(context.viewer);
      if (target.cancelled()) {
        close();
        return 'cancelled';
      }
      return delivery.start({
        parsed,
        source: params.query,
        context,
        stream: target.stream,
        framing: target.framing,
        endsStream: target.endsStream,
        onEnd: () => {
          close();
          target.onEnd();
        },
      });
    } catch (error) {
      return answer({ errors: [maskError(error) as GraphQLError] });
    }
  }

  /** Distinct connections: the operation's own stream, ended after its `complete`. */
  async function distinct(request: Request, url: URL, serverContext: Readonly<Record<string, unknown>>) {
    const params = await readParams(request, url);
    if (params instanceof Response) return params;
    const stream = streams.open(serverResponseOf(serverContext));
    await startOperation(request, params, {
      stream,
      framing: DISTINCT_FRAMING,
      endsStream: true,
      cancelled: () => !stream.open,
      onEnd: () => undefined,
    });
    return new Response(stream.body, { status: 200, statusText: 'OK', headers: EVENT_STREAM_HEADERS });
  }

  /** `POST` (or `GET`) of an operation onto a reserved stream. */
  async function operate(request: Request, url: URL, token: string): Promise<Response> {
    if (!reservations.get(token)) return protocolError(404, 'Not Found', 'Stream not found');
    if (!['*/*', 'application/*', 'application/json'].includes(acceptOf(request)))
      return emptyAnswer(406, 'Not Acceptable');
    const params = await readParams(request, url);
    if (params instanceof Response) return params;
    // The stream may have ended while the body was read (its client went away).
    const reservation = reservations.get(token);
    if (!reservation) return protocolError(404, 'Not Found', 'Stream not found');
    const id = String(params.extensions?.operationId ?? '');
    if (!id) return protocolError(400, 'Bad Request', 'Operation ID is missing');
    if (reservation.operations.has(id))
      return protocolError(409, 'Conflict', 'Operation with ID already exists');
    const operation: StreamOperation = {};
    reservation.operations.set(id, operation);
    const outcome = await startOperation(request, params, {
      stream: reservation.events(),
      framing: operationFraming(id),
      endsStream: false,
      cancelled: () => reservation.operations.get(id) !== operation,
      onEnd: () => reservation.ended(id, operation),
    });
    if (outcome === 'cancelled') return emptyAnswer(204, 'No Content');
    if (outcome !== 'answered') operation.subscription = outcome;
    return emptyAnswer(202, 'Accepted');
  }

  async function handle(
    request: Request,
    url: URL,
    serverContext: Readonly<Record<string, unknown>>,
  ): Promise<Response> {
    const token = streamTokenOf(request, url);
    const reservation = token === null ? undefined : reservations.get(token);
    const accept = acceptOf(request);
    if (accept === 'text/event-stream') {
      if (!reservation) return distinct(request, url, serverContext);
      if (reservation.isOpen) return protocolError(409, 'Conflict', 'Stream already open');
      const stream = reservation.open(serverResponseOf(serverContext));
      return new Response(stream.body, { status: 200, statusText: 'OK', headers: EVENT_STREAM_HEADERS });
    }
    switch (request.method) {
      case 'PUT': {
        if (accept !== '*/*' && accept !== 'text/plain') return emptyAnswer(406, 'Not Acceptable');
        // graphql-sse makes up the token when the client names none.
        const reserved = reservations.reserve(token ?? randomUUID());
        if (!reserved) return protocolError(409, 'Conflict', 'Stream already registered');
        return new Response(reserved.token, {
          status: 201,
          statusText: 'Created',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        });
      }
      case 'DELETE': {
        if (!reservation) return protocolError(404, 'Not Found', 'Stream not found');
        const id = url.searchParams.get('operationId');
        if (!id) return protocolError(400, 'Bad Request', 'Operation ID is missing');
        reservation.stop(id);
        return emptyAnswer(200, 'OK');
      }
      case 'GET':
      case 'POST':
        if (token === null) return protocolError(404, 'Not Found', 'Stream not found');
        return operate(request, url, token);
      default:
        return emptyAnswer(405, 'Method Not Allowed', { allow: 'GET, POST, PUT, DELETE' });
    }
  }

  return {
    methods: '*',
    path: GRAPHQL_SSE_PATH,
    handle: (request, _params, serverContext, url) => handle(request, url, serverContext),
    reservations,
    dispose: () => reservations.dispose(),
  };
}
