import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../../log.ts';
import type { PartitionedLogStats, PartitionRecord, PartitionWatermarks } from '../partitioned-log.ts';

/**
 * The one Kafka consumer of an instance (group `streamgate-{env}`), shared by every
 * subscription to a Kafka-sourced topic. It consumes only the topics somebody asked for, and
 * where they asked for: `consume(topic, from)` adds a topic, or rewinds partitions of a topic
 * already consumed so that a resuming subscriber gets what it missed. Messages before a
 * subscriber's own position are the subscriber's to skip (the topics domain keeps a cursor per
 * subscriber), which is what makes a rewind invisible to the others.
 */
export interface KafkaTopicConsumer {
  /** Low and high watermark per partition; empty when the topic does not exist yet. */
  watermarks(topic: string): Promise<Map<number, PartitionWatermarks>>;
  /** Consume `topic`, each listed partition from at most that offset. */
  consume(topic: string, from: ReadonlyMap<number, bigint>): void;
  /** Nobody needs `topic` any more; it is dropped after the idle timeout unless asked for again. */
  release(topic: string): void;
  stats(): PartitionedLogStats;
  /** Resolves when Kafka answers; throws with the reason otherwise. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaTopicConsumerOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  /** How long a released topic keeps being consumed (a reconnecting client costs no restart). */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  /** Called for every record, in offset order per partition. */
  readonly onRecord: (record: PartitionRecord) => void;
  /** Called after each record is counted, for metrics. */
  readonly onConsumed?: (topic: string) => void;
}

/** @default 500 ms: how long a fetch waits for data; it bounds how late a rewind takes effect. */
const MAX_WAIT_MS = 500;
/** @default 2 s: delay before retrying a consumer that could not start. */
const RETRY_DELAY_MS = 2_000;

export function createKafkaTopicConsumer(options: KafkaTopicConsumerOptions): KafkaTopicConsumer {
  const { kafka, groupId, log } = options;
  /** Topics wanted now, with the idle timer of a released one. */
  const wanted = new Map<string, { releaseTimer: NodeJS.Timeout | undefined }>();
  /** Next offset this consumer reads, per topic and partition. */
  const next = new Map<string, Map<number, bigint>>();
  /** Rewinds asked for since the last reconcile. */
  const pending = new Map<string, Map<number, bigint>>();
  let current: { consumer: Consumer; topics: ReadonlySet<string> } | undefined;
  let admin: Promise<Admin> | undefined;
  let consumed = 0;
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let lastError: Error | undefined;

  const connectedAdmin = () => {
    admin ??= (async () => {
      const created = kafka.admin();
      await created.connect();
      return created;
    })().catch((error: unknown) => {
      admin = undefined;
      throw error;
    });
    return admin;
  };

  const schedule = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = reconcile()
      .catch((error: unknown) => {
        lastError = error as Error;
        log.error({ err: error, groupId }, 'Kafka topic consumer could not start; retrying');
        clearTimeout(retryTimer);
        retryTimer = setTimeout(schedule, RETRY_DELAY_MS);
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule();
        }
      });
  };

  const positionsOf = (topic: string) => {
    let positions = next.get(topic);
    if (!positions) {
      positions = new Map();
      next.set(topic, positions);
    }
    return positions;
  };

  async function reconcile(): Promise<void> {
    const desired = new Set(wanted.keys());
    const sameTopics =
      current !== undefined &&
      current.topics.size === desired.size &&
      [...desired].every((t) => current?.topics.has(t));
    const rewinds = new Map(pending);
    pending.clear();

    if (sameTopics && current) {
      for (const [topic, from] of rewinds) {
        const positions = positionsOf(topic);
        for (const [partition, offset] of from) {
          const at = positions.get(partition);
          if (at !== undefined && at <= offset) continue;
          positions.set(partition, offset);
          try {
            // kafkajs drops what it already fetched for the partition and reads on from here.
            current.consumer.seek({ topic, partition, offset: offset.toString() });
          } catch (error) {
            // Between generations of a rebalance: the next GROUP_JOIN seeks to `next` anyway.
            log.debug({ err: error, topic, partition }, 'Kafka seek deferred to the next group join');
          }
        }
      }
      return;
    }

    if (current) {
      const stopping = current.consumer;
      current = undefined;
      await stopping.disconnect();
    }
    for (const topic of [...next.keys()]) if (!desired.has(topic)) next.delete(topic);
    for (const [topic, from] of rewinds) {
      if (!desired.has(topic)) continue;
      const positions = positionsOf(topic);
      for (const [partition, offset] of from) {
        const at = positions.get(partition);
        if (at === undefined || offset < at) positions.set(partition, offset);
      }
    }
    if (desired.size === 0) return;

    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: MAX_WAIT_MS, allowAutoTopicCreation: true });
    // On every join (the first, and after any rebalance or restart) put each partition where
    // this instance wants it; committed offsets only matter for partitions not known yet.
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assignment = event.payload.memberAssignment as Record<string, number[]>;
      for (const [topic, partitions] of Object.entries(assignment)) {
        const positions = next.get(topic);
        for (const partition of partitions) {
          const offset = positions?.get(partition);
          if (offset !== undefined) consumer.seek({ topic, partition, offset: offset.toString() });
        }
      }
    });
    consumer.on(consumer.events.CRASH, (event) => {
      lastError = event.payload.error;
      if (event.payload.restart || current?.consumer !== consumer) return;
      // kafkajs gave up on this consumer: build a new one with the same positions.
      current = undefined;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(schedule, RETRY_DELAY_MS);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...desired], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          if (!wanted.has(topic)) return;
          const offset = BigInt(message.offset);
          positionsOf(topic).set(partition, offset + 1n);
          consumed += 1;
          options.onConsumed?.(topic);
          options.onRecord({
            topic,
            partition,
            offset,
            key: message.key,
            value: message.value,
            timestamp: new Date(Number(message.timestamp)),
          });
        },
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    current = { consumer, topics: desired };
    lastError = undefined;
    log.debug({ groupId, topics: [...desired] }, 'Kafka topic consumer running');
  }

  return {
    async watermarks(topic) {
      const client = await connectedAdmin();
      try {
        const offsets = await client.fetchTopicOffsets(topic);
        return new Map(
          offsets.map((entry) => [entry.partition, { low: BigInt(entry.low), high: BigInt(entry.high) }]),
        );
      } catch (error) {
        if ((error as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return new Map();
        throw error;
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
        if (earlier === undefined || offset < earlier) rewinds.set(partition, offset);
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
      if (wanted.size > 0 && !current && lastError) throw lastError;
      const client = await connectedAdmin();
      await client.describeCluster();
    },

    async close() {
      closed = true;
      clearTimeout(retryTimer);
      for (const entry of wanted.values()) clearTimeout(entry.releaseTimer);
      wanted.clear();
      await running?.catch(() => undefined);
      const stopping = current?.consumer;
      current = undefined;
      await stopping?.disconnect().catch(() => undefined);
      const adminClient = await admin?.catch(() => undefined);
      await adminClient?.disconnect().catch(() => undefined);
    },
  };
}
