import { randomUUID } from 'node:crypto';
import { decodePosition, encodePosition, type TopicCursor } from '../../domain/topics/topic-position.ts';
import type { Viewer } from '../../domain/viewer.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { onTokenExpiry } from '../auth/token-expiry.ts';
import { jsonResponse } from '../http-response.ts';
import type { HttpRoute } from '../http-routes.ts';
import { limitRefusals } from '../limits/limits-plugins.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { type EventStream, EventStreams, serverResponseOf } from '../sse/event-stream.ts';
import type { LegacyAccess } from './legacy-access.ts';
import { filtersPerTopic, translateLegacyFilter } from './legacy-filters.ts';
import { LEGACY_ERRORS, TOPIC_FAILURES } from './protocol.ts';
import type { TopicOperations } from './topic-operations.ts';
import { TopicSession } from './topic-session.ts';

export interface LegacySseOptions {
  readonly operations: TopicOperations;
  readonly access: LegacyAccess;
  readonly stats: TransportStats;
  readonly log: Logger;
  /** Interval of the `: heartbeat` comment. */
  readonly heartbeatMs: number;
  /** What may wait unsent on one stream before it is ended as a slow consumer (MAX_CLIENT_BUFFER). */
  readonly outboundLimitBytes: number;
  /** For `limit_refusals_total`. */
  readonly metrics: Metrics;
  /** Largest POST /sse/subscribe body. */
  readonly maxPayloadBytes: number;
}

interface SseConnection {
  readonly id: string;
  readonly viewer: Viewer;
  readonly session: TopicSession;
  /**
   * Where a topic subscribed on this stream starts: after the last message of it this stream
   * sent, or where the Last-Event-ID the stream was opened with says; null: from now.
   */
  positionOf(topic: string): string | null;
  readonly stream: EventStream;
}

/**
 * The SSE routes of the old streaming service (legacy.md D): `GET /sse/stream?token=` opens a
 * stream, `POST /sse/subscribe` adds a topic to it. Every `data` event carries `id:`, one
 * position token for all the stream's topics, so that a reconnect with `Last-Event-ID` resumes
 * each topic as it is subscribed again. The streams are written by the SSE delivery core
 * (sse/event-stream.ts): a tick's events go out in one write per stream, bounded by
 * MAX_CLIENT_BUFFER, with one heartbeat timer for all of them (a slice of the streams per tick).
 */
export function useLegacySse(options: LegacySseOptions): { routes: HttpRoute[]; dispose(): void } {
  const connections = new Map<string, SseConnection>();
  const refusals = limitRefusals(options.metrics);
  const streams = new EventStreams({
    maxBufferedBytes: options.outboundLimitBytes,
    keepAliveMs: options.heartbeatMs,
    // The first frame is connection_established; a heartbeat on every stream, busy or not.
    greeting: null,
    heartbeat: () => Buffer.from(`: heartbeat ${Date.now()}\n\n`),
    slowConsumerFrame: event('error', {
      error: LEGACY_ERRORS.SLOW_CONSUMER,
      message: 'outbound queue limit reached',
    }),
    onSlowConsumer: (buffered) => {
      // The client reads slower than it is sent to: ended rather than buffered without bound.
      refusals.inc({ limit: 'MAX_CLIENT_BUFFER' });
      options.log.warn({ buffered, transport: TRANSPORTS.LEGACY_SSE }, 'legacy SSE slow consumer cut off');
    },
  });

  const json = (status: number, body: object) => jsonResponse(body, { status });

  const stream: HttpRoute = {
    methods: ['GET'],
    path: '/sse/stream',
    async handle(request, _params, serverContext, url) {
      const access = await options.access.authenticate(request);
      if (!access.ok) return json(401, { error: access.error, message: access.message });
      const slot = options.access.openConnection(access.viewer, 'sse');
      if (!slot.ok)
        return json(429, { error: LEGACY_ERRORS.CONNECTION_LIMIT_EXCEEDED, message: slot.message });

      const id = randomUUID();
      const log = options.log.child({ connectionId: id, transport: TRANSPORTS.LEGACY_SSE });
      const lastEventId = request.headers.get('last-event-id') ?? url.searchParams.get('lastEventId');
      const cursors = new Map<string, TopicCursor>();
      let badResume: string | undefined;
      if (lastEventId) {
        try {
          for (const [topic, cursor] of decodePosition(lastEventId)) cursors.set(topic, cursor);
        } catch (error) {
          badResume = (error as Error).message;
        }
      }

      const out = streams.open(serverResponseOf(serverContext));
      const session = new TopicSession({
        viewer: access.viewer,
        transport: TRANSPORTS.LEGACY_SSE,
        request,
        operations: options.operations,
        log,
        // The event's frame is the group's, encoded once per message; only `id:` (this stream's
        // position over all its topics) is this stream's own when it follows more than one topic.
        onData: (delivery) => {
          const cursor = delivery.cursor;
          if (cursor) cursors.set(delivery.message.topic, cursor);
          const shared = cursor && cursors.size === 1 ? delivery.sseAloneFrame : undefined;
          if (shared) {
            out.send(shared);
            return;
          }
          out.send(`id: ${encodePosition(cursors)}\n`);
          out.send(delivery.sseEvent);
        },
        onStreamError: (topic, error) =>
          out.send(event('error', { error: error.code, message: error.message, topic })),
      });
      const positionOf = (topic: string) => {
        const cursor = cursors.get(topic);
        return cursor ? encodePosition(new Map([[topic, cursor]])) : null;
      };
      connections.set(id, { id, viewer: access.viewer, session, positionOf, stream: out });
      options.stats.connectionOpened(TRANSPORTS.LEGACY_SSE);
      let cancelExpiry: () => void = () => undefined;
      // Whoever ends the stream (the client leaving, a slow-consumer cut, expiry, shutdown).
      out.whenClosed(() => {
        cancelExpiry();
        connections.delete(id);
        options.stats.connectionClosed(TRANSPORTS.LEGACY_SSE);
        slot.release();
        void session.close();
      });
      // The client went away while its token was checked: nothing to answer.
      if (!out.open) return new Response(null, { status: 499 });
      // In-process (no Node response) the client going away aborts the request.
      request.signal?.addEventListener('abort', () => out.end(), { once: true });
      out.send(
        event('connection_established', {
          connection_id: id,
          user_id: access.viewer.userId,
          tenant_id: access.viewer.tenantId,
        }),
      );
      if (badResume) out.send(event('error', { error: 'INVALID_LAST_EVENT_ID', message: badResume }));
      const { expiresAt } = access.viewer;
      if (expiresAt !== undefined) {
        // The stream lives no longer than its token (docs/auth.md).
        cancelExpiry = onTokenExpiry(expiresAt, () =>
          out.end(
            event('error', {
              error: LEGACY_ERRORS.INVALID_TOKEN,
              message: 'the token expired; reconnect with a new one',
            }),
          ),
        );
      }
      return new Response(out.body, {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        },
      });
    },
  };

  const subscribe: HttpRoute = {
    methods: ['POST'],
    path: '/sse/subscribe',
    async handle(request) {
      const access = await options.access.authenticate(request);
      if (!access.ok) return json(401, { error: access.error, message: access.message });
      const form = await readSubscribeBody(request, options.maxPayloadBytes);
      if ('problem' in form)
        return json(form.status, { error: LEGACY_ERRORS.INVALID_FORMAT, message: form.problem });
      const { connectionId, topic, filters } = form;
      if (!connectionId)
        return json(400, { error: LEGACY_ERRORS.INVALID_FORMAT, message: 'connection_id is required' });
      const connection = connections.get(connectionId);
      // Another user's stream is as unknown as a closed one.
      if (!connection || connection.viewer.userId !== access.viewer.userId) {
        return json(404, { error: 'CONNECTION_NOT_FOUND', message: `no open stream "${connectionId}"` });
      }
      if (!topic) return json(400, { error: LEGACY_ERRORS.MISSING_TOPICS, message: 'topic is required' });
      const translation = translateLegacyFilter(filtersPerTopic([topic], filters).get(topic));
      if (!translation.ok) return json(400, { error: 'INVALID_FILTERS', message: translation.problem });
      const outcome = await connection.session.subscribe([topic], filters, connection.positionOf);
      if (!outcome.ok) return json(400, { error: 'INVALID_FILTERS', message: outcome.problem });
      const failure = outcome.failed[0];
      if (failure) {
        const status =
          failure.error === TOPIC_FAILURES.SUBSCRIPTION_DENIED
            ? 403
            : failure.error === 'UNAVAILABLE'
              ? 503
              : failure.error === 'INTERNAL'
                ? 500
                : 400;
        const error = failure.error === 'BAD_USER_INPUT' ? 'INVALID_FILTERS' : failure.error;
        return json(status, { error, message: failure.message ?? failure.error, topic });
      }
      return json(200, { success: true, topic, filters: filters ?? null, connection_id: connectionId });
    },
  };

  return {
    routes: [stream, subscribe],
    dispose() {
      for (const connection of [...connections.values()]) connection.stream.end();
      streams.dispose();
    },
  };
}

/** One SSE event; `data` is one line of JSON. */
function event(name: string, data: object, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

type SubscribeBody =
  | {
      readonly connectionId: string | undefined;
      readonly topic: string | undefined;
      readonly filters: unknown;
    }
  | { readonly problem: string; readonly status: number };

/** POST /sse/subscribe takes JSON or a form; in a form, `filters` is JSON text. */
async function readSubscribeBody(request: Request, maxBytes: number): Promise<SubscribeBody> {
  const length = Number(request.headers.get('content-length') ?? 0);
  if (length > maxBytes) return { problem: `the body is over ${maxBytes} bytes`, status: 413 };
  const type = request.headers.get('content-type') ?? '';
  const text = (value: unknown) =>
    typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  try {
    if (type.includes('application/json')) {
      const body: unknown = await request.json();
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return { problem: 'the body must be a JSON object', status: 400 };
      }
      const { connection_id, topic, filters } = body as Record<string, unknown>;
      return { connectionId: text(connection_id), topic: text(topic), filters: filters ?? null };
    }
    if (type.includes('application/x-www-form-urlencoded') || type.includes('multipart/form-data')) {
      const form = await request.formData();
      const filtersText = text(form.get('filters'));
      let filters: unknown = null;
      if (filtersText) {
        try {
          filters = JSON.parse(filtersText);
        } catch {
          return { problem: 'filters must be JSON', status: 400 };
        }
      }
      return { connectionId: text(form.get('connection_id')), topic: text(form.get('topic')), filters };
    }
  } catch {
    return { problem: 'the body could not be read as its content type says', status: 400 };
  }
  return { problem: 'send application/json or a form (connection_id, topic, filters)', status: 415 };
}
