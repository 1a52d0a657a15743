import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, errors as natsErrors } from '@nats-io/transport-node';
import { messageOf } from '../../errors.ts';
import type {
  Broker,
  BrokerHealth,
  BrokerMessage,
  BrokerStats,
  MessageToPublish,
  PublishOptions,
  PublishOutcome,
  PublishReceipt,
  RequestHandler,
  RequestOptions,
  Responder,
  RespondOptions,
  ResumeFrom,
  RetainOptions,
  SubscribeOptions,
  Subscription,
} from '../broker.ts';
import { BrokerUnavailableError, NoRespondersError, RemoteError, RequestTimeoutError } from '../errors.ts';
import { brokerStats, closeLocalEndpoints, ResponderSet } from '../local-endpoints.ts';
import { assertRetainOptions } from '../retain-options.ts';
import { parseSequencePosition, rejectQueueWithFrom } from '../sequence-position.ts';
import { type BrokerFeed, type FeedSink, SharedSubscriptions } from '../shared-subscriptions.ts';
import { assertPattern, assertSubject } from '../subject-pattern.ts';
import { connectNats } from './nats-connection.ts';
import {
  fromCoreMessage,
  natsHeaderLines,
  SERVICE_ERROR_CODE_HEADER,
  SERVICE_ERROR_HEADER,
  toNatsHeaders,
  wireHeaders,
} from './nats-messages.ts';
import { JetStreamAcks, type StreamPublish } from './nats-publish-acks.ts';
import { ackError, isStreamSizeRefusal, publishError } from './nats-publish-errors.ts';
import { followPublishViolations } from './nats-publish-violations.ts';
import { NatsRetainedWindows, STREAM_PREFIX } from './nats-retained-window.ts';
import { openStreamFeed, type StreamFeedContext, type StreamStart } from './nats-stream-feed.ts';
import { openWireBatch } from './nats-wire-batch.ts';

/** How long a batch waits for JetStream's acks (nats.js's own default for `js.publish`). */
const JETSTREAM_ACK_TIMEOUT_MS = 5_000;

/** The least time a retained subscription's consumer gets to come back after a reconnect. */
const STREAM_RESUME_TIMEOUT_MS = 30_000;

export interface NatsBrokerOptions {
  readonly url: string;
  /** The connection name the server shows. @default "streamgate" */
  readonly name?: string;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxWaitMs: number;
  /** @default "file" */
  readonly retainStorage?: 'file' | 'memory';
}

/**
 * The NATS backend. Subjects are NATS subjects 1:1 and payloads the raw bytes (no envelope),
 * so plain NATS clients interoperate: core NATS carries live traffic and request/reply,
 * JetStream streams hold the retained windows and give positions (stream sequences).
 */
export async function createNatsBroker(options: NatsBrokerOptions): Promise<Broker> {
  const { nc, health, onReconnect } = await connectNats({
    url: options.url,
    name: options.name ?? 'streamgate',
    connectTimeoutMs: options.connectTimeoutMs,
    reconnectMaxWaitMs: options.reconnectMaxWaitMs,
  });
  // A PUB on a subject this connection may not publish on gets no answer but this.
  const violations = followPublishViolations(nc);
  const windows = await openRetainedWindows(nc, options.retainStorage ?? 'file');
  const js = jetstream(nc);
  const responders = new ResponderSet();
  /** Stream feeds until their consumer is deleted, so that close() can wait for it. */
  const consumerFeeds = new Set<Promise<void>>();
  let closed = false;

  /**
   * Resolves once the server has processed everything published before the call. Publishes of
   * one tick share one PING/PONG instead of paying a round trip each.
   */
  let pendingFlush: Promise<void> | undefined;
  const flushSoon = (): Promise<void> => {
    pendingFlush ??= Promise.resolve().then(() => {
      pendingFlush = undefined;
      return nc.flush();
    });
    return pendingFlush;
  };

  // The ack inbox of batched JetStream publishes, subscribed on first use.
  let acks: JetStreamAcks | undefined;
  const streamAcks = () => {
    acks ??= new JetStreamAcks(
      nc,
      JETSTREAM_ACK_TIMEOUT_MS,
      async (stream) => {
        const info = await windows?.streamInfo(stream);
        // nanoseconds; 0 would be the server's default (2 min), which our streams never have
        return info === undefined || info.config.duplicate_window <= 0
          ? undefined
          : info.config.duplicate_window / 1_000_000;
      },
      violations,
    );
    return acks;
  };

  const ensureOpen = () => {
    if (closed || nc.isClosed()) throw new BrokerUnavailableError('the NATS broker is closed');
  };

  // While reconnecting the client would buffer a publish until it is back; callers (HTTP
  // ingest answering 503, for one) need to know now.
  const ensureConnected = () => {
    ensureOpen();
    const current = health.current;
    if (current.status === 'reconnecting') {
      throw new BrokerUnavailableError(`NATS is unreachable (reconnecting, attempt ${current.attempt})`);
    }
  };

  const requireWindows = (): NatsRetainedWindows => {
    if (!windows) throw new BrokerUnavailableError('JetStream is not enabled on this NATS server');
    return windows;
  };

  const openCoreFeed = (pattern: string, queue: string | undefined, sink: FeedSink): BrokerFeed => {
    const subscription = nc.subscribe(pattern, {
      queue,
      callback: (error, message) => {
        if (error)
          sink.fail(
            new BrokerUnavailableError(`the NATS subscription of "${pattern}" failed`, { cause: error }),
          );
        else sink.deliver(fromCoreMessage(message));
      },
    });
    // The SUB is ahead of any later PUB on this connection; the flush makes it sure server-side.
    return { ready: nc.flush(), close: () => subscription.unsubscribe() };
  };

  const streamFeeds: StreamFeedContext = {
    js,
    findStream: (pattern) => requireWindows().find(pattern),
    isConnected: () => health.current.status === 'connected',
    isClosed: () => closed || nc.isClosed(),
    onReconnect,
    // JetStream may need a moment after its server is back before it makes consumers again.
    resumeTimeoutMs: Math.max(STREAM_RESUME_TIMEOUT_MS, options.connectTimeoutMs),
    retryMaxWaitMs: options.reconnectMaxWaitMs,
  };
  const openStream = (pattern: string, start: (stream: string) => Promise<StreamStart>, sink: FeedSink) => {
    const feed = openStreamFeed(streamFeeds, pattern, start, sink);
    consumerFeeds.add(feed.finished);
    void feed.finished.then(() => consumerFeeds.delete(feed.finished));
    return feed;
  };

  const liveFromNow = async (stream: string): Promise<StreamStart> => {
    const info = await requireWindows().streamInfo(stream);
    return { seq: info.state.last_seq + 1 };
  };

  // Patterns with a retained window get positions on live messages too, so a subscriber can
  // resume from the last one it saw; queue groups stay on core NATS.
  const shared = new SharedSubscriptions((pattern, queue, sink) =>
    queue === undefined && windows?.covering(pattern) !== undefined
      ? openStream(pattern, liveFromNow, sink)
      : openCoreFeed(pattern, queue, sink),
  );

  /** The stream's max_msg_size, asked only when the stream refused a message as over it. */
  const streamLimitOn = async (stream: string | undefined, failure: unknown): Promise<number | undefined> => {
    if (stream === undefined || !windows || !isStreamSizeRefusal(failure)) return undefined;
    const limit = await windows
      .streamInfo(stream)
      .then((info) => info.config.max_msg_size)
      .catch(() => undefined);
    return limit !== undefined && limit > 0 ? limit : undefined;
  };

  const startOf = (from: ResumeFrom): (() => Promise<StreamStart>) => {
    if ('after' in from) {
      const after = parseSequencePosition(from.after);
      return async () => ({ seq: after + 1 });
    }
    const time = from.time;
    return async () => ({ time });
  };

  return {
    kind: 'nats',

    async publish(
      subject: string,
      payload: Uint8Array,
      publishOptions?: PublishOptions,
    ): Promise<PublishReceipt> {
      ensureConnected();
      assertSubject(subject);
      const headers = toNatsHeaders(publishOptions?.headers);
      const stream = windows?.covering(subject);
      try {
        if (stream !== undefined) {
          try {
            const ack = await js.publish(subject, payload, { headers });
            return { position: String(ack.seq) };
          } catch (error) {
            // The stream was deleted behind our back: the subject is no longer retained.
            if (!isNoResponders(error)) throw error;
            windows?.forget(stream);
          }
        }
        // The flush is the only answer; a denied PUB is told before it (nats-publish-violations.ts).
        const denied = violations.record();
        try {
          nc.publish(subject, payload, { headers });
          await flushSoon();
          const violation = denied.of(subject);
          if (violation) throw violation;
        } finally {
          denied.stop();
        }
        return { position: undefined };
      } catch (error) {
        throw publishError(subject, payload, nc, error, await streamLimitOn(stream, error));
      }
    },

    async publishMany(messages: readonly MessageToPublish[]): Promise<PublishOutcome[]> {
      try {
        ensureConnected();
      } catch (error) {
        return messages.map(() => ({ status: 'rejected', reason: error }));
      }
      const outcomes: PublishOutcome[] = new Array(messages.length);
      const streamOf = new Map<string, string | undefined>();
      const retained: number[] = [];
      const toStreams: StreamPublish[] = [];
      const core: number[] = [];
      const coreBatch = openWireBatch(nc);
      for (let index = 0; index < messages.length; index++) {
        const { subject, payload, headers } = messages[index] as MessageToPublish;
        try {
          // A batch is mostly one subject (one device's): checked and looked up once.
          if (!streamOf.has(subject)) {
            assertSubject(subject);
            streamOf.set(subject, windows?.covering(subject));
          }
          const headerLines = natsHeaderLines(headers);
          const stream = streamOf.get(subject);
          if (stream !== undefined) {
            retained.push(index);
            // Chained only on streams of ours (their duplicate window is what a broken chain needs).
            const chainStream = stream.startsWith(STREAM_PREFIX) ? stream : undefined;
            toStreams.push({ subject, payload, headerLines, chainStream });
          } else {
            coreBatch.add(subject, undefined, headerLines, payload);
            core.push(index);
          }
        } catch (error) {
          outcomes[index] = { status: 'rejected', reason: publishError(subject, payload, nc, error) };
        }
      }
      // Core messages get no answer but the flush; a denied one is told before it.
      const denied = violations.record();
      try {
        coreBatch.send();
        const flushed = core.length === 0 ? undefined : flushSoon();
        const answers = toStreams.length === 0 ? [] : await streamAcks().publish(toStreams);
        // A stream deleted behind our back: its subjects are no longer retained (as in `publish`).
        const unretained: number[] = [];
        for (let slot = 0; slot < answers.length; slot++) {
          const answer = answers[slot] as (typeof answers)[number];
          const index = retained[slot] as number;
          const { subject, payload } = toStreams[slot] as StreamPublish;
          if (answer.kind === 'stored')
            outcomes[index] = { status: 'fulfilled', value: { position: String(answer.seq) } };
          else if (answer.kind === 'no-stream') unretained.push(slot);
          else {
            const limit = await streamLimitOn(streamOf.get(subject), answer);
            outcomes[index] = { status: 'rejected', reason: ackError(subject, payload, nc, answer, limit) };
          }
        }
        for (const slot of unretained) {
          const index = retained[slot] as number;
          const { subject, payload, headerLines } = toStreams[slot] as StreamPublish;
          const stream = streamOf.get(subject);
          if (stream !== undefined) windows?.forget(stream);
          try {
            nc.publish(subject, payload, { headers: wireHeaders(headerLines) });
            core.push(index);
          } catch (error) {
            outcomes[index] = { status: 'rejected', reason: publishError(subject, payload, nc, error) };
          }
        }
        if (core.length > 0) {
          try {
            await (unretained.length > 0 ? flushSoon() : flushed);
            for (const index of core) {
              const { subject, payload } = messages[index] as MessageToPublish;
              const violation = denied.of(subject);
              outcomes[index] =
                violation === undefined
                  ? { status: 'fulfilled', value: { position: undefined } }
                  : { status: 'rejected', reason: publishError(subject, payload, nc, violation) };
            }
          } catch (error) {
            for (const index of core) {
              const { subject, payload } = messages[index] as MessageToPublish;
              outcomes[index] = { status: 'rejected', reason: publishError(subject, payload, nc, error) };
            }
          }
        }
        return outcomes;
      } finally {
        denied.stop();
      }
    },

    subscribe(pattern: string, subscribeOptions?: SubscribeOptions): Subscription {
      ensureOpen();
      assertPattern(pattern);
      const from = subscribeOptions?.from;
      if (from === undefined) return shared.subscribe(pattern, subscribeOptions?.queue);
      rejectQueueWithFrom(subscribeOptions);
      const start = startOf(from);
      return shared.subscribeAlone(pattern, (sink) => openStream(pattern, start, sink));
    },

    async request(
      subject: string,
      payload: Uint8Array,
      requestOptions: RequestOptions,
    ): Promise<BrokerMessage> {
      ensureConnected();
      assertSubject(subject);
      try {
        const reply = await nc.request(subject, payload, {
          timeout: requestOptions.timeoutMs,
          headers: toNatsHeaders(requestOptions.headers),
        });
        const remoteError = reply.headers?.get(SERVICE_ERROR_HEADER);
        if (remoteError) throw new RemoteError(remoteError);
        return { ...fromCoreMessage(reply), subject };
      } catch (error) {
        if (error instanceof RemoteError) throw error;
        if (error instanceof natsErrors.TimeoutError)
          throw new RequestTimeoutError(subject, requestOptions.timeoutMs);
        if (isNoResponders(error)) throw new NoRespondersError(subject);
        throw publishError(subject, payload, nc, error);
      }
    },

    async respond(
      subject: string,
      handler: RequestHandler,
      respondOptions?: RespondOptions,
    ): Promise<Responder> {
      ensureOpen();
      assertPattern(subject);
      const subscription = nc.subscribe(subject, {
        queue: respondOptions?.queue,
        callback: (error, message) => {
          if (error || !message.reply) return;
          void answer(handler, fromCoreMessage(message)).then((reply) => {
            // The requester may be gone, or the connection closed meanwhile: nothing to tell.
            try {
              message.respond(reply.payload, { headers: toNatsHeaders(reply.headers) });
            } catch {}
          });
        },
      });
      await nc.flush();
      return responders.add(() => {
        if (!subscription.isClosed()) subscription.unsubscribe();
      });
    },

    async retain(pattern: string, retainOptions: RetainOptions): Promise<void> {
      ensureOpen();
      assertPattern(pattern);
      assertRetainOptions(retainOptions);
      await requireWindows().retain(pattern, retainOptions);
    },

    health(): BrokerHealth {
      return closed ? { status: 'closed' } : health.current;
    },

    stats(): BrokerStats {
      return brokerStats(shared, responders);
    },

    maxMessageBytes(): number | undefined {
      return nc.info?.max_payload;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await closeLocalEndpoints(shared, responders);
      // Let the consumers be deleted at the server before the connection goes.
      await Promise.race([
        Promise.allSettled([...consumerFeeds]),
        new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
      ]);
      if (!nc.isClosed()) await nc.close();
    },
  };
}

async function openRetainedWindows(
  nc: NatsConnection,
  storage: 'file' | 'memory',
): Promise<NatsRetainedWindows | undefined> {
  try {
    const windows = new NatsRetainedWindows(await jetstreamManager(nc), storage);
    await windows.refresh();
    return windows;
  } catch {
    // A NATS without JetStream still serves everything but retained windows.
    return undefined;
  }
}

async function answer(handler: RequestHandler, request: BrokerMessage) {
  try {
    return await handler(request);
  } catch (error) {
    return {
      payload: new Uint8Array(0),
      headers: {
        [SERVICE_ERROR_HEADER]: messageOf(error).replace(/[\r\n]+/g, ' '),
        [SERVICE_ERROR_CODE_HEADER]: '500',
      },
    };
  }
}

function isNoResponders(error: unknown): boolean {
  return (
    error instanceof natsErrors.NoRespondersError ||
    (error instanceof natsErrors.RequestError && error.isNoResponders())
  );
}
