import { randomBytes } from 'node:crypto';
import type {
  Broker,
  BrokerHealth,
  BrokerMessage,
  BrokerStats,
  MessageToPublish,
  PublishOptions,
  PublishReceipt,
  RequestHandler,
  RequestOptions,
  Responder,
  RespondOptions,
  RetainOptions,
  SubscribeOptions,
  Subscription,
} from '../broker.ts';
import { combineHealth } from '../connection-health.ts';
import {
  BrokerUnavailableError,
  brokerUnavailable,
  InvalidPositionError,
  PublishDeniedError,
} from '../errors.ts';
import { brokerStats } from '../local-endpoints.ts';
import { publishEach } from '../publish-each.ts';
import { assertRetainOptions } from '../retain-options.ts';
import { rejectQueueWithFrom } from '../sequence-position.ts';
import { type BrokerFeed, type FeedSink, SharedSubscriptions } from '../shared-subscriptions.ts';
import { assertPattern, assertSubject, subjectMatches } from '../subject-pattern.ts';
import { RedisChannelDispatcher } from './redis-channel-dispatcher.ts';
import { connectRedis, type TrackedRedis } from './redis-connection.ts';
import { decodeEnvelope, type EnvelopeMeta } from './redis-envelope.ts';
import { createRedisLiveTarget } from './redis-event-target.ts';
import { CLAIM_TTL_MS, RedisRequestReply } from './redis-request-reply.ts';
import { RedisRetainedWindows } from './redis-retained-window.ts';
import { redisNames } from './redis-subject-mapping.ts';
import { openWindowFeed, type WindowFeedContext } from './redis-window-feed.ts';

/** The least time a retained subscription gets to read its window again after a reconnect. */
const WINDOW_CATCH_UP_TIMEOUT_MS = 30_000;

export interface RedisBrokerOptions {
  readonly url: string;
  /** Client name shown by CLIENT LIST (the subscriber connection adds "-sub"). @default "streamgate" */
  readonly name?: string;
  /** Prefix of every key and internal channel streamgate uses. @default "streamgate:" */
  readonly keyPrefix?: string;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxWaitMs: number;
}

/**
 * The Redis backend: subjects are pub/sub channels (PSUBSCRIBE for wildcards, filtered to NATS
 * rules), retained windows are Redis Streams, queue groups claim each message with SET NX, and
 * request/reply runs over per-connection reply channels. Two connections: commands, and one in
 * subscriber mode.
 */
export async function createRedisBroker(options: RedisBrokerOptions): Promise<Broker> {
  const name = options.name ?? 'streamgate';
  const names = redisNames(options.keyPrefix ?? 'streamgate:');
  const connection = {
    url: options.url,
    connectTimeoutMs: options.connectTimeoutMs,
    reconnectMaxWaitMs: options.reconnectMaxWaitMs,
  };
  const connected = await Promise.allSettled([
    connectRedis({ ...connection, name, role: 'commands' }),
    connectRedis({ ...connection, name: `${name}-sub`, role: 'subscriber' }),
  ]);
  const [commandsResult, subscriberResult] = connected;
  if (commandsResult.status === 'rejected' || subscriberResult.status === 'rejected') {
    for (const result of connected) if (result.status === 'fulfilled') result.value.redis.disconnect();
    throw connected.find((result) => result.status === 'rejected')?.reason;
  }
  const commands: TrackedRedis = commandsResult.value;
  const subscriber: TrackedRedis = subscriberResult.value;
  const dispatcher = new RedisChannelDispatcher(subscriber.redis);
  const windows = new RedisRetainedWindows(commands.redis, names);
  await windows.refresh();
  const announcements = dispatcher.listen({ channel: names.windowAnnouncements }, () => {
    void windows.refresh().catch(() => undefined);
  });
  await announcements.ready;
  const rpc = new RedisRequestReply(commands.redis, dispatcher, names);
  const live = createRedisLiveTarget(dispatcher, names);
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new BrokerUnavailableError('the Redis broker is closed');
  };
  const ensureConnected = () => {
    ensureOpen();
    const health = combineHealth([commands.health.current, subscriber.health.current]);
    if (health.status !== 'connected')
      throw new BrokerUnavailableError(`Redis is unreachable (${describe(health)})`);
  };

  /** Listens to the channels of `pattern`; positions are read for `window`, if any. */
  const listenTo = (
    pattern: string,
    window: string | undefined,
    onMessage: (message: BrokerMessage, meta: EnvelopeMeta) => void,
  ) => {
    return live.listen(pattern, (channel, raw) => {
      // The glob is coarser than NATS rules (`*` spans dots): filter to the pattern.
      if (!subjectMatches(pattern, channel)) return;
      const { meta, payload } = decodeEnvelope(raw);
      onMessage(
        {
          subject: channel,
          payload,
          headers: meta.h ?? {},
          timestamp: new Date(meta.t ?? Date.now()),
          position: window === undefined ? undefined : meta.p?.[window],
        },
        meta,
      );
    });
  };

  const openLiveFeed = (pattern: string, queue: string | undefined, sink: FeedSink): BrokerFeed => {
    // A pattern with a retained window reads it after a reconnect, so nothing is missed.
    if (queue === undefined && windows.covering(pattern) !== undefined) {
      return openWindowFeed(windowFeeds, pattern, 'now', sink);
    }
    if (queue === undefined) {
      const listening = listenTo(pattern, undefined, (message) => sink.deliver(message));
      return { ready: listening.ready, close: listening.close };
    }
    // One member of the group across all instances: whoever sets the claim first delivers.
    // Claims resolve in the order they were sent, so the group keeps the subject's order.
    const group = `${queue}:${pattern}`;
    const listening = listenTo(pattern, undefined, (message, meta) => {
      if (meta.i === undefined) {
        sink.deliver(message);
        return;
      }
      commands.redis
        .set(names.claim(group, meta.i), '1', 'PX', CLAIM_TTL_MS, 'NX')
        .then((claimed) => {
          if (claimed === 'OK') sink.deliver(message);
        })
        .catch(() => undefined);
    });
    return { ready: listening.ready, close: listening.close };
  };

  const windowFeeds: WindowFeedContext = {
    windows,
    listen: (pattern, window, onMessage) => listenTo(pattern, window, onMessage),
    onResubscribed: (listener) => dispatcher.onResubscribed(listener),
    catchUpTimeoutMs: Math.max(WINDOW_CATCH_UP_TIMEOUT_MS, options.connectTimeoutMs),
    retryMaxWaitMs: options.reconnectMaxWaitMs,
  };

  const shared = new SharedSubscriptions(openLiveFeed);

  return {
    kind: 'redis',

    publishMany(this: Broker, messages: readonly MessageToPublish[]) {
      // ioredis writes the scripts back to back without waiting for replies: a pipeline.
      return publishEach((subject, payload, options) => this.publish(subject, payload, options), messages);
    },

    async publish(
      subject: string,
      payload: Uint8Array,
      publishOptions?: PublishOptions,
    ): Promise<PublishReceipt> {
      ensureConnected();
      assertSubject(subject);
      const headers = publishOptions?.headers;
      const meta: EnvelopeMeta = {
        s: subject,
        i: randomBytes(12).toString('base64url'),
        ...(headers && Object.keys(headers).length > 0 ? { h: headers } : {}),
      };
      try {
        const positions = await windows.publish(names.channel(subject), subject, meta, payload);
        const window = windows.covering(subject);
        return { position: window === undefined ? undefined : positions[window] };
      } catch (error) {
        // An ACL that does not let this user write the channel or the window's stream: for good.
        if (error instanceof Error && error.message.startsWith('NOPERM')) {
          throw new PublishDeniedError(subject, error.message, { cause: error });
        }
        throw brokerUnavailable(`Redis could not take the message on "${subject}"`, error);
      }
    },

    subscribe(pattern: string, subscribeOptions?: SubscribeOptions): Subscription {
      ensureOpen();
      assertPattern(pattern);
      const from = subscribeOptions?.from;
      if (from === undefined) return shared.subscribe(pattern, subscribeOptions?.queue);
      rejectQueueWithFrom(subscribeOptions);
      if ('after' in from && !/^\d{1,15}-\d{1,15}$/.test(from.after)) {
        throw new InvalidPositionError(from.after, 'a Redis stream id such as 1700000000000-0');
      }
      return shared.subscribeAlone(pattern, (sink) => openWindowFeed(windowFeeds, pattern, from, sink));
    },

    async request(
      subject: string,
      payload: Uint8Array,
      requestOptions: RequestOptions,
    ): Promise<BrokerMessage> {
      ensureConnected();
      assertSubject(subject);
      return rpc.request(subject, payload, requestOptions);
    },

    async respond(
      subject: string,
      handler: RequestHandler,
      respondOptions?: RespondOptions,
    ): Promise<Responder> {
      ensureOpen();
      assertPattern(subject);
      return rpc.respond(subject, handler, respondOptions?.queue);
    },

    async retain(pattern: string, retainOptions: RetainOptions): Promise<void> {
      ensureConnected();
      assertPattern(pattern);
      assertRetainOptions(retainOptions);
      await windows.retain(pattern, retainOptions);
    },

    health(): BrokerHealth {
      return closed
        ? { status: 'closed' }
        : combineHealth([commands.health.current, subscriber.health.current]);
    },

    stats(): BrokerStats {
      return brokerStats(shared, { size: rpc.responderCount });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      shared.closeAll();
      await rpc.close(new BrokerUnavailableError('the Redis broker is closed'));
      announcements.close();
      await Promise.all([quit(commands), quit(subscriber)]);
    },
  };
}

async function quit({ redis }: TrackedRedis): Promise<void> {
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}

function describe(health: BrokerHealth): string {
  return health.status === 'reconnecting' ? `reconnecting, attempt ${health.attempt}` : health.status;
}
