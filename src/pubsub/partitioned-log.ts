/**
 * The partitions-and-offsets capability of the Broker (Kafka-sourced topics, docs/topics.md):
 * a log kept by Kafka whose records the domain reads from offsets it chooses, per partition.
 * The domain sees only these types; src/pubsub/kafka/kafka-topic-log.ts implements them.
 */

/** One record of the log. */
export interface PartitionRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: Date;
}

/** The oldest retained offset and the next offset to be written, of one partition. */
export interface PartitionWatermarks {
  readonly low: bigint;
  readonly high: bigint;
}

/** Where a written record went. */
export interface PartitionReceipt {
  readonly partition: number;
  readonly offset: string;
}

export interface PartitionedLogStats {
  readonly groupId: string;
  /** Consumers running in this instance: 0 while no topic has a subscriber, else 1. */
  readonly consumers: number;
  readonly topics: readonly string[];
  readonly messagesConsumed: number;
}

/**
 * One consumer per instance, shared by every subscription: it reads only the topics somebody
 * asked for, and from where they asked. `consume(topic, from)` adds a topic, or rewinds
 * partitions of a topic already read so that a resuming subscriber gets what it missed;
 * records before a subscriber's own position are the subscriber's to skip (records may come
 * again after a rewind or a restart of the consumer). A consumer that cannot resume gives the
 * topics up with `onFailure` instead of retrying forever.
 */
export interface PartitionedLog {
  /** Low and high watermark per partition; empty when the topic does not exist yet. */
  watermarks(topic: string): Promise<Map<number, PartitionWatermarks>>;
  /** Read `topic`, each listed partition from at most that offset. */
  consume(topic: string, from: ReadonlyMap<number, bigint>): void;
  /** Nobody needs `topic` any more; it is dropped after the idle timeout unless asked for again. */
  release(topic: string): void;
  /** Writes one record; resolves once the log has it (BrokerUnavailableError otherwise). */
  send(topic: string, message: { key: string | null; value: Buffer }): Promise<PartitionReceipt>;
  stats(): PartitionedLogStats;
  /** Resolves when the log answers; throws with the reason otherwise. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** What the reader of the log is told. */
export interface PartitionedLogHandlers {
  /** Every record, in offset order per partition. */
  readonly onRecord: (record: PartitionRecord) => void;
  /** After each record is counted, for metrics. */
  readonly onConsumed?: (topic: string) => void;
  /**
   * The log stopped reading `topics` for good (BrokerUnavailableError): Kafka answered no fetch
   * within the resume budget, or records not read yet were deleted. Their subscribers must end;
   * a later `consume` starts afresh.
   */
  readonly onFailure?: (topics: readonly string[], error: Error) => void;
}

/** Opens the log (no connection until first used). */
export type OpenPartitionedLog = (handlers: PartitionedLogHandlers) => PartitionedLog;
