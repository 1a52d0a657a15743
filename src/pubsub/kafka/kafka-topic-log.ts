import type { Admin, Producer } from 'kafkajs';
import type { KafkaBrokerConfig } from '../../config/broker-kafka.ts';
import type { Logger } from '../../log.ts';
import { BrokerUnavailableError, brokerUnavailable } from '../errors.ts';
import type { PartitionedLog, PartitionedLogHandlers, PartitionWatermarks } from '../partitioned-log.ts';
import { createKafkaClient, createKafkaProducer, KafkaHealthMonitor } from './kafka-client.ts';
import {
  type KafkaFeed,
  type KafkaFeedDependencies,
  KafkaRecordsDeletedError,
  openKafkaFeed,
} from './kafka-consumer-feed.ts';
import { KafkaPublisher } from './kafka-publisher.ts';
import { KafkaSubjectMapping } from './kafka-subject-mapping.ts';
import { KafkaTopicAdmin, type PartitionOffsets } from './kafka-topic-admin.ts';

export interface KafkaTopicLogOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS, SASL and topic creation (KAFKA_SSL, KAFKA_SASL_*, KAFKA_AUTO_CREATE_TOPICS, …). */
  readonly kafka: KafkaBrokerConfig;
  /** How long the first use waits for Kafka to answer (BROKER_CONNECT_TIMEOUT). */
  readonly connectTimeoutMs: number;
  readonly reconnectMaxWaitMs: number;
  /**
   * How long the consumer may go without a fetch answered while Kafka answers before it gives
   * its topics up, as for Broker subscriptions. @default max(30 s, connectTimeoutMs)
   */
  readonly resumeTimeoutMs?: number;
  /** The instance's consumer group (KAFKA_CONSUMER_GROUP). */
  readonly groupId: string;
  /** How long a released topic keeps being read (KAFKA_TOPIC_IDLE_TIMEOUT). */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
}

/** @default 30s: the least the consumer gets to resume, as for the Broker's subscriptions. */
const RESUME_TIMEOUT_MS = 30_000;

/** What the log needs from Kafka once it is first used. */
interface Connection {
  readonly admin: Admin;
  readonly monitor: KafkaHealthMonitor;
  readonly topics: KafkaTopicAdmin;
  readonly feeds: KafkaFeedDependencies;
}

/**
 * The Kafka-sourced topics on the one Kafka stack: the client factory, producer and publisher
 * of the Kafka backend, and its consumer feed (kafka-consumer-feed.ts) with the same resume and
 * give-up rules as the Broker's subscriptions. One feed at a time reads every topic somebody
 * wants, in the group KAFKA_CONSUMER_GROUP; a new set of topics replaces it with one that
 * starts where it stood, and a resuming subscriber rewinds it. Nothing connects until first
 * used, so a server without Kafka topics never dials Kafka.
 */
export function openKafkaTopicLog(
  options: KafkaTopicLogOptions,
  handlers: PartitionedLogHandlers,
): PartitionedLog {
  const log = options.log.child({ component: 'kafka-topics' });
  const kafka = createKafkaClient({
    brokers: options.brokers,
    clientId: options.clientId,
    security: options.kafka,
    reconnectMaxWaitMs: options.reconnectMaxWaitMs,
    log: options.log,
    component: 'kafka-topics',
  });
  const groupId = options.groupId;
  /** Topics wanted now, with the idle timer of a released one. */
  const wanted = new Map<string, { releaseTimer: NodeJS.Timeout | undefined }>();
  /** Where the consumer stands (the next offset it reads), per topic and partition. */
  const next = new Map<string, Map<number, number>>();
  /** Rewinds asked for since the last reconcile. */
  const pending = new Map<string, Map<number, number>>();
  let current: { feed: KafkaFeed; topics: ReadonlySet<string> } | undefined;
  /** A feed being closed: the next one of the same group joins only after it left. */
  let retiring: Promise<void> = Promise.resolve();
  let connection: Promise<Connection> | undefined;
  let writer: Promise<{ publisher: KafkaPublisher; producer: Producer }> | undefined;
  let consumed = 0;
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;

  const connected = () => {
    connection ??= (async (): Promise<Connection> => {
      const monitor = await KafkaHealthMonitor.start({
        brokers: options.brokers,
        clientId: options.clientId,
        security: options.kafka,
        reconnectMaxWaitMs: options.reconnectMaxWaitMs,
        connectTimeoutMs: options.connectTimeoutMs,
      });
      const admin = kafka.admin();
      try {
        await admin.connect();
      } catch (error) {
        await monitor.stop();
        throw error;
      }
      const topics = new KafkaTopicAdmin(admin, {
        autoCreate: options.kafka.autoCreateTopics,
        partitions: options.kafka.topicPartitions,
        replicationFactor: options.kafka.replicationFactor,
      });
      const feeds: KafkaFeedDependencies = {
        kafka,
        topics,
        mapping: new KafkaSubjectMapping(options.kafka),
        closing: new Set(),
        reservedTopics: new Set(),
        resumeTimeoutMs: options.resumeTimeoutMs ?? Math.max(RESUME_TIMEOUT_MS, options.connectTimeoutMs),
        isConnected: () => monitor.health.current.status === 'connected',
      };
      return { admin, monitor, topics, feeds };
    })().catch((error: unknown) => {
      connection = undefined;
      throw brokerUnavailable('Kafka is not reachable', error);
    });
    return connection;
  };

  /**
   * A kafkajs admin refreshes the metadata of every topic it was ever asked about, so one such
   * topic deleted by somebody else fails all its later calls: after a feed gave up, or a call
   * failed on an unknown topic, the next use gets a new connection (the old one closes once the
   * feed that used it has left).
   */
  const renewConnection = () => {
    const old = connection;
    if (!old) return;
    connection = undefined;
    const leaving = retiring;
    void old
      .then(async ({ admin, monitor }) => {
        await leaving;
        await Promise.allSettled([admin.disconnect(), monitor.stop()]);
      })
      .catch(() => undefined);
  };

  const positionsOf = (topic: string) => {
    let positions = next.get(topic);
    if (!positions) {
      positions = new Map();
      next.set(topic, positions);
    }
    return positions;
  };

  /** Forgets topics nobody can read any more; their subscribers are told by the caller. */
  const dropTopics = (topics: Iterable<string>) => {
    for (const topic of topics) {
      clearTimeout(wanted.get(topic)?.releaseTimer);
      wanted.delete(topic);
      next.delete(topic);
      pending.delete(topic);
    }
  };

  /** The feed gave up: its topics (or the one whose records were deleted) fail, the rest go on. */
  const feedFailed = (feed: KafkaFeed, topics: ReadonlySet<string>, error: unknown) => {
    if (current?.feed !== feed || closed) return;
    current = undefined;
    retiring = feed.close();
    const failed = error instanceof KafkaRecordsDeletedError ? [error.topic] : [...topics];
    const reason =
      error instanceof BrokerUnavailableError
        ? error
        : brokerUnavailable('the Kafka consumer of the Kafka-sourced topics failed', error);
    log.warn({ err: error, groupId, topics: failed }, 'Kafka consumer gave up; its subscribers end');
    dropTopics(failed);
    renewConnection();
    handlers.onFailure?.(failed, reason);
    if (wanted.size > 0) schedule();
  };

  const schedule = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = reconcile()
      .catch((error: unknown) => {
        // Kafka unreachable when the feed was to be (re)opened: the topics wanted fail alike.
        const failed = [...wanted.keys()];
        log.warn({ err: error, groupId, topics: failed }, 'Kafka consumer could not start');
        dropTopics(failed);
        handlers.onFailure?.(failed, brokerUnavailable('the Kafka consumer could not start', error));
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule();
        }
      });
  };

  async function reconcile(): Promise<void> {
    const desired = new Set(wanted.keys());
    const rewinds = new Map(pending);
    pending.clear();
    const sameTopics =
      current !== undefined &&
      current.topics.size === desired.size &&
      [...desired].every((topic) => current?.topics.has(topic));

    if (sameTopics && current) {
      for (const [topic, from] of rewinds) {
        const positions = positionsOf(topic);
        for (const [partition, offset] of from) {
          const at = positions.get(partition);
          if (at !== undefined && at <= offset) continue;
          positions.set(partition, offset);
          current.feed.rewind(topic, partition, offset);
        }
      }
      return;
    }

    if (current) {
      const stopping = current.feed;
      current = undefined;
      retiring = stopping.close();
    }
    await retiring;
    for (const topic of [...next.keys()]) if (!desired.has(topic)) next.delete(topic);
    for (const [topic, from] of rewinds) {
      if (!desired.has(topic)) continue;
      const positions = positionsOf(topic);
      for (const [partition, offset] of from) {
        const at = positions.get(partition);
        if (at === undefined || offset < at) positions.set(partition, offset);
      }
    }
    if (desired.size === 0 || closed) return;

    const { feeds, topics } = await connected();
    if (closed) return;
    const feed: KafkaFeed = openKafkaFeed(
      feeds,
      {
        pattern: undefined,
        selection: { topics: [...desired] },
        groupId,
        group: 'own',
        // Where the consumer stood; a partition nobody named (new since) from its beginning.
        start: async (topic): Promise<PartitionOffsets> => {
          const offsets = await topics.startOffsets(topic);
          for (const [partition, offset] of next.get(topic) ?? []) offsets.set(partition, offset);
          return offsets;
        },
        trackPositions: false,
        createTopics: true,
        redelivered: 'pass',
      },
      (record) => {
        if (current?.feed !== feed || !wanted.has(record.topic)) return;
        positionsOf(record.topic).set(record.partition, record.offset + 1);
        consumed += 1;
        handlers.onConsumed?.(record.topic);
        handlers.onRecord({
          topic: record.topic,
          partition: record.partition,
          offset: BigInt(record.offset),
          key: record.key,
          value: record.value,
          timestamp: record.timestamp,
        });
      },
      (error) => feedFailed(feed, desired, error),
    );
    current = { feed, topics: desired };
    feed.ready.then(
      () => log.debug({ groupId, topics: [...desired] }, 'Kafka topic consumer running'),
      (error: unknown) => feedFailed(feed, desired, error),
    );
  }

  const connectedWriter = () => {
    writer ??= (async () => {
      const { topics } = await connected();
      const producer = createKafkaProducer(kafka);
      try {
        await producer.connect();
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
      return { publisher: new KafkaPublisher(producer, topics), producer };
    })().catch((error: unknown) => {
      writer = undefined;
      throw brokerUnavailable('Kafka is not reachable', error);
    });
    return writer;
  };

  return {
    async watermarks(topic) {
      for (let attempt = 1; ; attempt++) {
        const { admin } = await connected();
        try {
          const offsets = await admin.fetchTopicOffsets(topic);
          return new Map<number, PartitionWatermarks>(
            offsets.map((entry) => [entry.partition, { low: BigInt(entry.low), high: BigInt(entry.high) }]),
          );
        } catch (error) {
          if (!isUnknownTopic(error)) throw error;
          // This topic does not exist (yet), or another one this admin knew was deleted.
          if (attempt > 1) return new Map();
          renewConnection();
        }
      }
    },

    consume(topic, from) {
      const entry = wanted.get(topic);
      if (entry) {
        clearTimeout(entry.releaseTimer);
        entry.releaseTimer = undefined;
      } else {
        wanted.set(topic, { releaseTimer: undefined });
      }
      let rewinds = pending.get(topic);
      if (!rewinds) {
        rewinds = new Map();
        pending.set(topic, rewinds);
      }
      for (const [partition, offset] of from) {
        const earlier = rewinds.get(partition);
        if (earlier === undefined || offset < BigInt(earlier)) rewinds.set(partition, Number(offset));
      }
      schedule();
    },

    release(topic) {
      const entry = wanted.get(topic);
      if (!entry || entry.releaseTimer) return;
      entry.releaseTimer = setTimeout(() => {
        wanted.delete(topic);
        pending.delete(topic);
        schedule();
      }, options.idleTimeoutMs);
      entry.releaseTimer.unref();
    },

    stats() {
      return {
        groupId,
        consumers: current ? 1 : 0,
        topics: [...wanted.keys()].sort(),
        messagesConsumed: consumed,
      };
    },

    async check() {
      const { admin, monitor } = await connected();
      const health = monitor.health.current;
      if (health.status !== 'connected') {
        throw new BrokerUnavailableError(`Kafka is unreachable (${health.status})`);
      }
      await admin.describeCluster();
    },

    async send(topic, message) {
      const { publisher } = await connectedWriter();
      try {
        const written = await publisher.publish({
          topic,
          key: message.key,
          value: message.value,
          headers: {},
          timestamp: Date.now(),
        });
        return { partition: written.partition, offset: String(written.offset) };
      } catch (error) {
        throw brokerUnavailable('Kafka did not accept the message', error);
      }
    },

    async close() {
      closed = true;
      for (const entry of wanted.values()) clearTimeout(entry.releaseTimer);
      wanted.clear();
      await running?.catch(() => undefined);
      const stopping = current?.feed;
      current = undefined;
      await Promise.allSettled([stopping?.close(), retiring]);
      const opened = await writer?.catch(() => undefined);
      writer = undefined;
      if (opened) {
        opened.publisher.abandon(brokerUnavailable('Kafka-sourced topics are closed', 'closing'));
        await opened.producer.disconnect().catch(() => undefined);
      }
      const open = await connection?.catch(() => undefined);
      connection = undefined;
      if (open) await Promise.allSettled([open.admin.disconnect(), open.monitor.stop()]);
    },
  };
}

/** Kafka's UNKNOWN_TOPIC_OR_PARTITION, also behind kafkajs's "number of retries exceeded". */
function isUnknownTopic(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if ((current as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
    current = current.cause;
  }
  return false;
}
