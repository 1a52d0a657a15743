import type { Config } from '../../config/config.ts';
import { BadUserInputError, PayloadTooLargeError, UnavailableError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { limitRefusals, type Metrics } from '../../metrics.ts';
import type { Broker } from '../../pubsub/broker.ts';
import type { PartitionedLog, PartitionedLogStats } from '../../pubsub/partitioned-log.ts';
import { subjects } from '../../pubsub/subjects.ts';
import type { Audience } from '../audience.ts';
import type { BrokerMessageBounds } from '../broker-message-bounds.ts';
import { HEALTH_STATUS, type HealthProbe } from '../health.ts';
import type { Viewer } from '../viewer.ts';
import { BrokerTopicFeed, ResumedBrokerFeed, TOPIC_KEY_HEADER } from './broker-topic-feed.ts';
import { assertCanPublish, assertCanSubscribe, canSubscribe, requireViewer } from './entitlements.ts';
import { KafkaTopicFeed } from './kafka-topic-feed.ts';
import { compileFilter } from './message-filter.ts';
import { isValidTopicName, TOPIC_NAME_RULE, TOPIC_SOURCES, type TopicDefinition } from './topic.ts';
import type { TopicDelivery } from './topic-message.ts';
import { decodePosition, encodePosition, type TopicCursor } from './topic-position.ts';
import { createTopicRegistry, type TopicRegistry } from './topic-registry.ts';
import { TopicSubscriber } from './topic-subscriber.ts';

/** Records of one partition that a position asks for and Kafka no longer holds. */
interface KafkaGap {
  readonly kafkaTopic: string;
  readonly partition: number;
  /** The first offset asked for. */
  readonly from: bigint;
  /** The oldest offset Kafka still holds. */
  readonly oldest: bigint;
}

/**
 * `after` asks for records Kafka deleted (retention, a delete): UNAVAILABLE naming them, with
 * `oldestPosition`, the same position moved to the oldest records Kafka still holds. A client
 * that accepts the gap subscribes with it; one that cannot, knows what it lost.
 */
function recordsDeleted(
  resumeFrom: ReadonlyMap<string, TopicCursor>,
  starts: ReadonlyMap<string, ReadonlyMap<number, bigint>>,
  deleted: ReadonlyMap<string, readonly KafkaGap[]>,
): UnavailableError {
  const oldest = new Map(resumeFrom);
  for (const name of deleted.keys()) oldest.set(name, { kind: 'kafka', next: starts.get(name) ?? new Map() });
  const gaps = [...deleted].flatMap(([name, list]) =>
    list.map(
      (gap) =>
        `topic "${name}": records ${gap.from}..${gap.oldest - 1n} of ${gap.kafkaTopic}[${gap.partition}] (the oldest Kafka holds is offset ${gap.oldest})`,
    ),
  );
  return new UnavailableError(
    `cannot resume after this position: Kafka deleted records it had not delivered yet, ${gaps.join('; ')}. Subscribe with extensions.oldestPosition to go on from the oldest records Kafka holds, or without after to start from now`,
    { details: { oldestPosition: encodePosition(oldest) } },
  );
}

/** @default 50: topics one subscription may name. */
export const MAX_TOPICS_PER_SUBSCRIPTION = 50;

/** What `publish` returns (GraphQL PublishResult). */
export interface PublishOutcome {
  readonly accepted: number;
  readonly position: string | null;
}

/** The subscription figures of /stats. */
export interface TopicStats {
  /** Live subscriptions per topic, only topics that have some. */
  readonly topics: Readonly<Record<string, number>>;
  readonly activeSubscriptions: number;
  readonly kafka: PartitionedLogStats;
}

/** Topics: the registry, entitlements, live subscriptions with filters and resume, publishing. */
export interface TopicService {
  readonly registry: TopicRegistry;
  /**
   * Makes the registry hold exactly `fileTopics` (@default the dependencies' `fileTopics`) when
   * given, and keeps a window of broker topics for `after`.
   */
  start(fileTopics?: readonly TopicDefinition[]): Promise<void>;
  /** Topics the caller may subscribe to. */
  list(viewer: Viewer | null): Promise<TopicDefinition[]>;
  /** The topic, when the caller may subscribe to it. */
  get(viewer: Viewer | null, name: string): Promise<TopicDefinition | null>;
  /** Live subscriptions to the topic on this instance. */
  activeSubscriptions(name: string): number;
  /**
   * Checks everything (names, entitlement for every topic, filter, position) before anything
   * flows, then returns the stream. Errors: UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND,
   * SUBSCRIPTION_DENIED naming the topic, UNAVAILABLE when Kafka cannot be reached.
   */
  subscribe(
    viewer: Viewer | null,
    topics: readonly string[],
    filter: unknown,
    after: string | null | undefined,
    audience?: Audience,
  ): Promise<AsyncIterableIterator<TopicDelivery>>;
  publish(
    viewer: Viewer | null,
    topic: string,
    data: unknown,
    key: string | null | undefined,
  ): Promise<PublishOutcome>;
  /**
   * Publishes many messages to one topic in one call: checked once (names, entitlement, every
   * message's size, before any is sent), then sent pipelined, in order, with the
   * acknowledgements awaited together. Resolves once the broker has every one.
   */
  publishMany(
    viewer: Viewer | null,
    topic: string,
    messages: readonly unknown[],
    key: string | null | undefined,
  ): Promise<PublishOutcome>;
  stats(): TopicStats;
  /** Health probes to add to /health: Kafka, when the registry has KAFKA topics. */
  healthProbes(): Promise<HealthProbe[]>;
  /** Ends every live subscription of this instance and the Kafka consumption. */
  stop(): Promise<void>;
}

export interface TopicServiceDependencies {
  readonly config: Config;
  readonly log: Logger;
  readonly prisma: Parameters<typeof createTopicRegistry>[0];
  readonly broker: Broker;
  readonly metrics: Metrics;
  /** What a message read from Kafka or the broker must hold to reach a subscriber. */
  readonly messageBounds: BrokerMessageBounds;
  /** TOPICS_FILE's topics, read by the caller before anything is opened; `start` seeds the registry with them. */
  readonly fileTopics?: readonly TopicDefinition[];
}

const NO_KAFKA: PartitionedLogStats = { groupId: '', consumers: 0, topics: [], messagesConsumed: 0 };

export function createTopicService(dependencies: TopicServiceDependencies): TopicService {
  const { config, broker, metrics, messageBounds } = dependencies;
  const refusals = limitRefusals(metrics);
  const log = dependencies.log.child({ component: 'topics' });
  const registry = createTopicRegistry(dependencies.prisma);
  const brokerFeeds = new Map<string, BrokerTopicFeed>();
  const kafkaFeeds = new Map<string, KafkaTopicFeed>();
  // One stream may serve a whole subscription group: counts are of the clients it serves.
  const active = new Map<string, Set<Audience>>();
  const live = new Map<TopicSubscriber, Audience>();
  const sizeOf = (audiences: Iterable<Audience>) => {
    let total = 0;
    for (const audience of audiences) total += audience.size;
    return total;
  };
  const consumedCounter = metrics.counter({
    name: 'kafka_messages_consumed_total',
    help: 'Records read from Kafka for Kafka-sourced topics, by Kafka topic.',
    labelNames: ['topic'],
  });
  let consumer: PartitionedLog | undefined;

  /** Kafka-sourced topics: the Broker's partitioned log, opened on first use. */
  const kafkaConsumer = () => {
    if (!broker.partitionedLog) {
      throw new UnavailableError('this server has no Kafka connection for Kafka-sourced topics');
    }
    consumer ??= broker.partitionedLog({
      onRecord: (record) => kafkaFeeds.get(record.topic)?.dispatch(record),
      onConsumed: (topic) => consumedCounter.inc({ topic }),
      // The consumer could not resume (Kafka away past the budget, records deleted): the
      // subscribers end with UNAVAILABLE, as on a broker topic, and may resume with `after`.
      onFailure: (kafkaTopics, error) => {
        for (const kafkaTopic of kafkaTopics) {
          const feed = kafkaFeeds.get(kafkaTopic);
          if (!feed) continue;
          kafkaFeeds.delete(kafkaTopic);
          log.warn({ err: error, topic: feed.topic, kafkaTopic }, 'Kafka consumer of a topic gave up');
          const failure = new UnavailableError(
            `the Kafka consumer of topic "${feed.topic}" gave up (${error.message}); subscribe again with the last position`,
          );
          feed.failAll({ kind: 'failure', error: failure });
        }
      },
    });
    return consumer;
  };

  const countActive = (topic: string, audience: Audience, delta: 1 | -1) => {
    let audiences = active.get(topic);
    if (!audiences) {
      audiences = new Set();
      active.set(topic, audiences);
    }
    if (delta > 0) audiences.add(audience);
    else audiences.delete(audience);
    if (audiences.size === 0) active.delete(topic);
  };

  /** Where a new subscriber starts in a Kafka topic: its token's offsets, else per KAFKA_AUTO_OFFSET_RESET. */
  /** publish and publishMany: every check before the first message is sent. */
  async function publishAll(
    viewer: Viewer | null,
    name: string,
    messages: readonly unknown[],
    key: string | null | undefined,
  ): Promise<PublishOutcome> {
    const caller = requireViewer(viewer);
    checkNames([name]);
    const topic = assertCanPublish(caller, name, await registry.get(name), config.topics.publisherRoles);
    const payloads = messages.map((data, index) => {
      const payload = Buffer.from(JSON.stringify(data ?? null), 'utf8');
      if (payload.byteLength > config.http.maxPayloadBytes) {
        const which = messages.length === 1 ? 'the message' : `message ${index}`;
        refusals.inc({ limit: 'MAX_PAYLOAD_BYTES' });
        throw new PayloadTooLargeError(
          `${which} is ${payload.byteLength} bytes; at most ${config.http.maxPayloadBytes} are allowed (MAX_PAYLOAD_BYTES)`,
          messages.length === 1 ? undefined : { details: { index } },
        );
      }
      return payload;
    });
    if (payloads.length === 0) return { accepted: 0, position: null };
    if (topic.source === TOPIC_SOURCES.KAFKA && topic.kafkaTopic) {
      const kafkaTopic = topic.kafkaTopic;
      const kafka = kafkaConsumer();
      // The producer batches what is sent while a request is in flight, in order.
      const receipts = await Promise.all(
        payloads.map((value) => kafka.send(kafkaTopic, { key: key ?? null, value })),
      );
      const last = receipts.at(-1);
      return { accepted: payloads.length, position: last ? `${last.partition}:${last.offset}` : null };
    }
    const subject = subjects.topic(name);
    const headers: Record<string, string> = key ? { [TOPIC_KEY_HEADER]: key } : {};
    // One batch: every message is sent before the acknowledgements are awaited, together.
    const outcomes = await broker.publishMany(payloads.map((payload) => ({ subject, payload, headers })));
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const last = outcomes.at(-1);
    return {
      accepted: payloads.length,
      position: last?.status === 'fulfilled' ? (last.value.position ?? null) : null,
    };
  }

  /**
   * Where each partition of a Kafka topic starts, and the records `cursor` asks for that Kafka no
   * longer holds (retention, a delete): the caller refuses those rather than skip them unseen.
   */
  async function kafkaStart(
    kafkaTopic: string,
    cursor: TopicCursor | undefined,
  ): Promise<{ start: Map<number, bigint>; deleted: KafkaGap[] }> {
    let watermarks: Awaited<ReturnType<PartitionedLog['watermarks']>>;
    try {
      watermarks = await kafkaConsumer().watermarks(kafkaTopic);
    } catch (error) {
      throw new UnavailableError(`Kafka is not reachable: ${(error as Error).message}`, { cause: error });
    }
    const start = new Map<number, bigint>();
    const deleted: KafkaGap[] = [];
    for (const [partition, { low, high }] of watermarks) {
      let offset: bigint;
      if (cursor?.kind === 'kafka') {
        // A partition the token does not know is newer than the token: all of it is unseen.
        const wanted = cursor.next.get(partition) ?? low;
        offset = wanted;
        if (offset < low) {
          deleted.push({ kafkaTopic, partition, from: wanted, oldest: low });
          offset = low;
        }
        // A position past the end is bogus: start at the end.
        if (offset > high) offset = high;
      } else {
        offset = config.topics.kafkaOffsetReset === 'earliest' ? low : high;
      }
      start.set(partition, offset);
    }
    return { start, deleted };
  }

  function checkNames(names: readonly string[]): string[] {
    if (names.length === 0) throw new BadUserInputError('topics must name at least one topic');
    const unique = [...new Set(names)];
    if (unique.length > MAX_TOPICS_PER_SUBSCRIPTION) {
      throw new BadUserInputError(
        `at most ${MAX_TOPICS_PER_SUBSCRIPTION} topics per subscription, got ${unique.length}`,
      );
    }
    for (const name of unique) {
      if (!isValidTopicName(name)) {
        throw new BadUserInputError(
          `topic "${name.slice(0, 100)}" is not a valid topic name: ${TOPIC_NAME_RULE}`,
          {
            details: { topic: name, reason: 'INVALID_TOPIC_FORMAT' },
          },
        );
      }
    }
    return unique;
  }

  return {
    registry,

    async start(fileTopics = dependencies.fileTopics) {
      if (fileTopics) {
        await registry.replaceAll(fileTopics);
        log.info({ file: config.topics.file, topics: fileTopics.length }, 'topics loaded');
      }
      try {
        await broker.retain(subjects.topic('>'), { maxAgeMs: config.topics.brokerRetentionMs });
      } catch (error) {
        log.warn(
          { err: error },
          'the broker keeps no window of topic messages: `after` cannot resume BROKER topics',
        );
      }
    },

    async list(viewer) {
      if (!viewer) return [];
      return (await registry.list()).filter((topic) => canSubscribe(viewer, topic));
    },

    async get(viewer, name) {
      if (!viewer || !isValidTopicName(name)) return null;
      const topic = await registry.get(name);
      return topic && canSubscribe(viewer, topic) ? topic : null;
    },

    activeSubscriptions: (name) => sizeOf(active.get(name) ?? []),

    async subscribe(viewer, names, filterInput, after, audience = { size: 1 }) {
      const caller = requireViewer(viewer);
      const unique = checkNames(names);
      const filter = compileFilter(filterInput, config.topics.filterMaxTerms);
      const resumeFrom = after ? decodePosition(after) : new Map<string, TopicCursor>();
      const definitions: TopicDefinition[] = [];
      for (const name of unique) definitions.push(assertCanSubscribe(caller, name, await registry.get(name)));

      // Everything that can fail or wait happens before the subscriber is attached anywhere.
      const kafkaStarts = new Map<string, Map<number, bigint>>();
      const deleted = new Map<string, KafkaGap[]>();
      for (const topic of definitions) {
        if (topic.source === TOPIC_SOURCES.KAFKA && topic.kafkaTopic) {
          const planned = await kafkaStart(topic.kafkaTopic, resumeFrom.get(topic.name));
          kafkaStarts.set(topic.name, planned.start);
          if (planned.deleted.length > 0) deleted.set(topic.name, planned.deleted);
        }
      }
      // The Broker's `from` rule (docs/pubsub.md "Resuming, or not"): never skip records unseen.
      if (deleted.size > 0) throw recordsDeleted(resumeFrom, kafkaStarts, deleted);

      const detach: Array<() => void> = [];
      const subscriber = new TopicSubscriber({
        filter,
        bufferBytes: config.topics.subscriberBufferBytes,
        onOverflow: () => refusals.inc({ limit: 'TOPIC_SUBSCRIBER_BUFFER' }),
        onEnd: () => {
          live.delete(subscriber);
          for (const undo of detach) undo();
        },
      });
      const since = new Date();
      for (const topic of definitions) {
        const { name } = topic;
        if (topic.source === TOPIC_SOURCES.KAFKA && topic.kafkaTopic) {
          const kafkaTopic = topic.kafkaTopic;
          const start = kafkaStarts.get(name) ?? new Map<number, bigint>();
          subscriber.start(name, { kind: 'kafka', next: start });
          let feed = kafkaFeeds.get(kafkaTopic);
          if (!feed) {
            feed = new KafkaTopicFeed(name, kafkaTopic, messageBounds);
            kafkaFeeds.set(kafkaTopic, feed);
          }
          feed.add(subscriber);
          kafkaConsumer().consume(kafkaTopic, start);
          const attached = feed;
          detach.push(() => {
            if (attached.remove(subscriber) && kafkaFeeds.get(kafkaTopic) === attached) {
              kafkaFeeds.delete(kafkaTopic);
              consumer?.release(kafkaTopic);
            }
          });
        } else {
          const cursor = resumeFrom.get(name);
          if (cursor?.kind === 'broker') {
            subscriber.start(name, cursor);
            const from = 'after' in cursor ? { after: cursor.after } : { time: cursor.since };
            const resumed = new ResumedBrokerFeed(name, broker, from, subscriber, log, messageBounds);
            detach.push(() => resumed.stop());
          } else {
            subscriber.start(name, { kind: 'broker', since });
            let feed = brokerFeeds.get(name);
            if (!feed) {
              feed = new BrokerTopicFeed(name, broker, log, messageBounds);
              brokerFeeds.set(name, feed);
            }
            feed.add(subscriber);
            const attached = feed;
            detach.push(() => {
              if (attached.remove(subscriber) && brokerFeeds.get(name) === attached) brokerFeeds.delete(name);
            });
          }
        }
        countActive(name, audience, 1);
        detach.push(() => countActive(name, audience, -1));
      }
      live.set(subscriber, audience);
      return subscriber.queue.iterator;
    },

    publish(viewer, name, data, key) {
      return publishAll(viewer, name, [data], key);
    },

    publishMany(viewer, name, messages, key) {
      return publishAll(viewer, name, messages, key);
    },

    stats() {
      const topics = Object.fromEntries(
        [...active.entries()]
          .map(([name, audiences]) => [name, sizeOf(audiences)] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
      return {
        topics,
        activeSubscriptions: sizeOf(live.values()),
        kafka: consumer ? consumer.stats() : { ...NO_KAFKA, groupId: config.topics.kafkaGroupId },
      };
    },

    async healthProbes() {
      const hasKafkaTopics = (await registry.list()).some((topic) => topic.source === TOPIC_SOURCES.KAFKA);
      if (!hasKafkaTopics) return [];
      return [
        {
          name: 'kafka',
          required: false,
          check: async () => {
            await kafkaConsumer().check();
            return { status: HEALTH_STATUS.OK };
          },
        },
      ];
    },

    async stop() {
      for (const subscriber of [...live.keys()]) subscriber.queue.end();
      await consumer?.close();
    },
  };
}
