import { createHash, randomUUID } from 'node:crypto';
import type { KafkaBrokerConfig } from '../../config/broker-kafka.ts';
import type { Logger } from '../../log.ts';
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
  ResumeFrom,
  RetainOptions,
  SubscribeOptions,
  Subscription,
} from '../broker.ts';
import { BrokerUnavailableError, NotRetainedError } from '../errors.ts';
import { brokerStats } from '../local-endpoints.ts';
import { publishEach } from '../publish-each.ts';
import { assertRetainOptions } from '../retain-options.ts';
import { rejectQueueWithFrom } from '../sequence-position.ts';
import { type BrokerFeed, type FeedSink, SharedSubscriptions } from '../shared-subscriptions.ts';
import { assertPattern, assertSubject, patternCovers } from '../subject-pattern.ts';
import {
  createKafkaClient,
  createKafkaProducer,
  KafkaHealthMonitor,
  retryUntilDeadline,
} from './kafka-client.ts';
import {
  type ConsumedRecord,
  INTERNAL_HEADERS,
  type KafkaFeedDependencies,
  openKafkaFeed,
} from './kafka-consumer-feed.ts';
import { decodeKafkaPosition, encodeKafkaPosition } from './kafka-position.ts';
import { kafkaPublishError } from './kafka-publish-errors.ts';
import { KafkaPublisher } from './kafka-publisher.ts';
import { KafkaRequestReply } from './kafka-request-reply.ts';
import { KafkaSubjectMapping } from './kafka-subject-mapping.ts';
import { KafkaTopicAdmin, type PartitionOffsets } from './kafka-topic-admin.ts';

export interface KafkaBrokerOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly kafka: KafkaBrokerConfig;
  /** Prefix of the consumer groups the broker creates (KAFKA_CONSUMER_GROUP). */
  readonly groupPrefix: string;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxWaitMs: number;
  /**
   * How long a subscription's consumer may fail to resume (Kafka down, its records deleted, its
   * group unable to rejoin) before it ends with UNAVAILABLE. @default max(30 s, connectTimeoutMs)
   */
  readonly resumeTimeoutMs?: number;
  readonly log?: Logger;
}

/** @default 30s: the least a consumer gets to resume, as for NATS's JetStream consumers. */
const RESUME_TIMEOUT_MS = 30_000;

/** How long close() waits for consumers to leave their groups. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * The Kafka backend. Subjects map to topics and keys (kafka-subject-mapping.ts); every
 * subscription is a consumer whose group's offsets are set before it joins (its own group for
 * fan-out, a shared one for a queue group); `from` starts each partition at a cursor or a
 * time; request/reply goes over a reply topic with correlation ids. Kafka keeps every topic
 * for its retention, so a retained window only bounds what a replay returns.
 */
export async function createKafkaBroker(options: KafkaBrokerOptions): Promise<Broker> {
  const clientOptions = {
    brokers: options.brokers,
    clientId: options.clientId,
    security: options.kafka,
    reconnectMaxWaitMs: options.reconnectMaxWaitMs,
    log: options.log,
  };
  const deadline = Date.now() + options.connectTimeoutMs;
  const monitor = await KafkaHealthMonitor.start({
    ...clientOptions,
    connectTimeoutMs: options.connectTimeoutMs,
  });
  const kafka = createKafkaClient(clientOptions);
  const admin = kafka.admin();
  const producer = createKafkaProducer(kafka);
  try {
    const retrying = <T>(step: () => Promise<T>) =>
      retryUntilDeadline(step, deadline, options.reconnectMaxWaitMs);
    await retrying(() => Promise.all([admin.connect(), producer.connect()]));
    // Every subscription is a consumer group, and a Kafka that is just starting answers group
    // requests with "not the correct coordinator" (or "loading") until its offsets topic is
    // loaded: wait for the coordinator here, within BROKER_CONNECT_TIMEOUT, not in a crash later.
    await retrying(() => admin.describeGroups([`${options.groupPrefix}.startup-probe`]));
  } catch (error) {
    await monitor.stop();
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
    throw new BrokerUnavailableError(
      `Kafka at ${options.brokers.join(',')} is not ready within ${options.connectTimeoutMs} ms: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const topics = new KafkaTopicAdmin(admin, {
    autoCreate: options.kafka.autoCreateTopics,
    partitions: options.kafka.topicPartitions,
    replicationFactor: options.kafka.replicationFactor,
  });
  const mapping = new KafkaSubjectMapping(options.kafka);
  const replyTopic = `${options.kafka.topicPrefix}_replies`;
  const dependencies: KafkaFeedDependencies = {
    kafka,
    topics,
    mapping,
    closing: new Set(),
    reservedTopics: new Set([replyTopic]),
    resumeTimeoutMs: options.resumeTimeoutMs ?? Math.max(RESUME_TIMEOUT_MS, options.connectTimeoutMs),
    isConnected: () => monitor.health.current.status === 'connected',
  };
  const publisher = new KafkaPublisher(producer, topics);
  const rpc = new KafkaRequestReply(dependencies, publisher, {
    replyTopic,
    groupPrefix: options.groupPrefix,
  });
  const windows = new Map<string, RetainOptions>();
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new BrokerUnavailableError('the Kafka broker is closed');
  };
  const ensureConnected = () => {
    ensureOpen();
    const health = monitor.health.current;
    if (health.status === 'reconnecting') {
      throw new BrokerUnavailableError(`Kafka is unreachable (reconnecting, attempt ${health.attempt})`);
    }
  };

  const toMessage = (record: ConsumedRecord): BrokerMessage => ({
    subject: record.subject,
    payload: record.payload,
    headers: record.headers,
    timestamp: record.timestamp,
    position: record.position,
  });

  /**
   * A queue group's record may come again to another member (BrokerMessage.redeliveryKey). The
   * timestamp tells a record from one at the same offset of a topic deleted and made again.
   */
  const toQueueMessage = (record: ConsumedRecord): BrokerMessage => ({
    ...toMessage(record),
    redeliveryKey: `${record.topic}/${record.partition}/${record.offset}/${record.timestamp.getTime()}`,
  });

  const openLiveFeed = (pattern: string, queue: string | undefined, sink: FeedSink): BrokerFeed =>
    openKafkaFeed(
      dependencies,
      {
        pattern,
        selection: mapping.topicsOf(pattern),
        groupId:
          queue === undefined
            ? `${options.groupPrefix}.subscriber.${randomUUID()}`
            : `${options.groupPrefix}.queue.${queue}.${hashOf(pattern)}`,
        group: queue === undefined ? 'own' : 'shared',
        start: (topic) => topics.endOffsets(topic),
        trackPositions: queue === undefined,
        createTopics: true,
      },
      (record) => sink.deliver(queue === undefined ? toMessage(record) : toQueueMessage(record)),
      (error) =>
        sink.fail(new BrokerUnavailableError(`the Kafka consumer of "${pattern}" failed`, { cause: error })),
    );

  /**
   * Each partition starts after the cursor (or, for a partition the cursor does not name, at
   * its time), or at the time asked; a window's maxMessages bounds how far back it reaches.
   */
  const openResumedFeed = (pattern: string, from: ResumeFrom, sink: FeedSink): BrokerFeed => {
    const cursor = 'after' in from ? decodeKafkaPosition(from.after) : undefined;
    const window = [...windows].find(([retained]) => patternCovers(retained, pattern))?.[1];
    const openedAt = Date.now();
    const oldest = window ? openedAt - window.maxAgeMs : Number.NEGATIVE_INFINITY;
    const notBefore = 'time' in from ? from.time.getTime() : Number.NEGATIVE_INFINITY;
    const start = async (topic: string): Promise<PartitionOffsets> => {
      if (!(await topics.exists(topic))) throw new NotRetainedError(pattern);
      const [end, oldest] = await Promise.all([topics.endOffsets(topic), topics.startOffsets(topic)]);
      const byTime = await topics.offsetsAt(topic, cursor ? cursor.t : notBefore);
      const offsets: PartitionOffsets = new Map();
      for (const [partition, last] of end) {
        let offset = cursor?.o[topic]?.[String(partition)] ?? byTime.get(partition) ?? last;
        if (window?.maxMessages !== undefined) offset = Math.max(offset, last - window.maxMessages);
        const first = oldest.get(partition) ?? 0;
        // Kafka would answer "offset out of range" and kafkajs jump to the end without a word.
        if (offset < first) {
          throw new BrokerUnavailableError(
            `cannot resume "${pattern}": records ${offset}..${first - 1} of ${topic}[${partition}] are deleted`,
          );
        }
        offsets.set(partition, Math.min(offset, last));
      }
      return offsets;
    };
    return openKafkaFeed(
      dependencies,
      {
        pattern,
        selection: mapping.topicsOf(pattern),
        groupId: `${options.groupPrefix}.replay.${randomUUID()}`,
        group: 'own',
        start,
        trackPositions: true,
        createTopics: false,
      },
      (record) => {
        // What the window's age has dropped, or what is older than the time asked, is skipped.
        if (record.timestamp.getTime() < oldest || record.timestamp.getTime() < notBefore) return;
        sink.deliver(toMessage(record));
      },
      (error) =>
        sink.fail(new BrokerUnavailableError(`the Kafka consumer of "${pattern}" failed`, { cause: error })),
    );
  };

  const shared = new SharedSubscriptions(openLiveFeed);

  return {
    kind: 'kafka',

    publishMany(this: Broker, messages: readonly MessageToPublish[]) {
      // One produce request carries what is queued together (KafkaPublisher).
      return publishEach((subject, payload, options) => this.publish(subject, payload, options), messages);
    },

    async publish(
      subject: string,
      payload: Uint8Array,
      publishOptions?: PublishOptions,
    ): Promise<PublishReceipt> {
      ensureConnected();
      assertSubject(subject);
      const { topic, key } = mapping.addressOf(subject);
      const timestamp = Date.now();
      try {
        const written = await publisher.publish({
          topic,
          key,
          value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          headers: { ...publishOptions?.headers, [INTERNAL_HEADERS.subject]: subject },
          timestamp,
        });
        return {
          position: encodeKafkaPosition({
            t: timestamp,
            o: { [topic]: { [String(written.partition)]: written.offset + 1 } },
          }),
        };
      } catch (error) {
        throw kafkaPublishError(subject, payload, error);
      }
    },

    subscribe(pattern: string, subscribeOptions?: SubscribeOptions): Subscription {
      ensureOpen();
      assertPattern(pattern);
      const from = subscribeOptions?.from;
      if (from === undefined) return shared.subscribe(pattern, subscribeOptions?.queue);
      rejectQueueWithFrom(subscribeOptions);
      if ('after' in from) decodeKafkaPosition(from.after);
      return shared.subscribeAlone(pattern, (sink) => openResumedFeed(pattern, from, sink));
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
      const selection = mapping.topicsOf(pattern);
      if ('topics' in selection) {
        await topics.ensureTopics(selection.topics);
        for (const topic of selection.topics) await topics.ensureRetention(topic, retainOptions.maxAgeMs);
      }
      windows.set(pattern, retainOptions);
    },

    health(): BrokerHealth {
      return closed ? { status: 'closed' } : monitor.health.current;
    },

    stats(): BrokerStats {
      return brokerStats(shared, { size: rpc.responderCount });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      shared.closeAll();
      const error = new BrokerUnavailableError('the Kafka broker is closed');
      await rpc.close(error);
      publisher.abandon(error);
      await Promise.race([
        Promise.allSettled([...dependencies.closing]),
        new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref()),
      ]);
      await Promise.allSettled([producer.disconnect(), admin.disconnect(), monitor.stop()]);
    },
  };
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
