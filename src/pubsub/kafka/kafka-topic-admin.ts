import kafkajs, { type Admin, type PartitionMetadata } from 'kafkajs';
import { messageOf } from '../../errors.ts';

// kafkajs is CommonJS; Node's ESM loader only sees some of its exports as named ones.
const { ConfigResourceTypes, ConfigSource } = kafkajs;

export interface TopicCreation {
  /** Create missing topics, or fail on them. */
  readonly autoCreate: boolean;
  readonly partitions: number;
  /** -1: the cluster's default. */
  readonly replicationFactor: number;
}

/**
 * Created topics accept messages up to this size (Kafka's default, 1 MiB + 12 bytes, leaves no
 * room for a 1 MiB payload with its headers).
 */
const CREATED_TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Partition → offset. */
export type PartitionOffsets = Map<number, number>;

/**
 * The admin work of the Kafka broker: topics that must exist, their partitions, offsets by
 * position and time, and the offsets of a consumer group before it starts.
 */
export class KafkaTopicAdmin {
  private readonly known = new Set<string>();
  private readonly metadata = new Map<string, PartitionMetadata[]>();
  private readonly creating = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: Admin,
    private readonly creation: TopicCreation,
  ) {}

  /** Makes sure the topics exist (creating them when allowed); rejects naming a missing one. */
  async ensureTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((topic) => !this.known.has(topic));
    if (missing.length === 0) return;
    const existing = new Set(await this.listTopics());
    for (const topic of existing) this.known.add(topic);
    const absent = missing.filter((topic) => !existing.has(topic));
    if (absent.length === 0) return;
    if (!this.creation.autoCreate) {
      throw new Error(`Kafka topic "${absent[0]}" does not exist and KAFKA_AUTO_CREATE_TOPICS is off`);
    }
    await Promise.all(absent.map((topic) => this.create(topic)));
  }

  /** True when the topic exists (no creation). */
  async exists(topic: string): Promise<boolean> {
    if (this.known.has(topic)) return true;
    const existing = await this.listTopics();
    for (const name of existing) this.known.add(name);
    return this.known.has(topic);
  }

  /** Every existing topic a regular expression matches. */
  async matching(regex: RegExp): Promise<string[]> {
    const existing = await this.listTopics();
    for (const name of existing) this.known.add(name);
    return existing.filter((topic) => regex.test(topic) && !topic.startsWith('__'));
  }

  /** The partitions of a topic, once each has a leader (cached; `refresh` after a change). */
  async partitionsOf(topic: string, refresh = false): Promise<PartitionMetadata[]> {
    const cached = this.metadata.get(topic);
    if (cached && !refresh) return cached;
    return this.settled(topic, async () => {
      const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length === 0 || partitions.some((partition) => partition.leader < 0)) {
        throw new Error(`the partitions of "${topic}" have no leader yet`);
      }
      this.metadata.set(topic, partitions);
      return partitions;
    });
  }

  /** The next offset to be written, per partition. */
  async endOffsets(topic: string): Promise<PartitionOffsets> {
    const offsets = await this.settled(topic, () => this.admin.fetchTopicOffsets(topic));
    return new Map(offsets.map(({ partition, high }) => [partition, Number(high)]));
  }

  /** The oldest offset the log still holds, per partition (what retention or a delete left). */
  async startOffsets(topic: string): Promise<PartitionOffsets> {
    const offsets = await this.settled(topic, () => this.admin.fetchTopicOffsets(topic));
    return new Map(offsets.map(({ partition, low }) => [partition, Number(low)]));
  }

  /** The first offset at or after `timestampMs` per partition (the end when there is none). */
  async offsetsAt(topic: string, timestampMs: number): Promise<PartitionOffsets> {
    const offsets = await this.settled(topic, () =>
      this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs),
    );
    return new Map(offsets.map(({ partition, offset }) => [partition, Number(offset)]));
  }

  /** Where a group would start: its committed offsets (-1 where none). */
  async committedOffsets(groupId: string, topic: string): Promise<PartitionOffsets> {
    const [entry] = await this.settled(topic, () => this.admin.fetchOffsets({ groupId, topics: [topic] }));
    return new Map((entry?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
  }

  /**
   * Raises the topic's retention.ms to at least `retentionMs` (never lowers it). AlterConfigs
   * replaces a topic's whole configuration, so the topic's own settings are sent along.
   */
  async ensureRetention(topic: string, retentionMs: number): Promise<void> {
    const { resources } = await this.settled(topic, () =>
      this.admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
        includeSynonyms: false,
      }),
    );
    const entries = resources[0]?.configEntries ?? [];
    const current = Number(entries.find((entry) => entry.configName === 'retention.ms')?.configValue ?? -1);
    if (current < 0 || current >= retentionMs) return;
    const own = entries
      .filter(
        (entry) => entry.configSource === ConfigSource.TOPIC_CONFIG && entry.configName !== 'retention.ms',
      )
      .map((entry) => ({ name: entry.configName, value: entry.configValue }));
    await this.admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [...own, { name: 'retention.ms', value: String(retentionMs) }],
        },
      ],
    });
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.admin.deleteGroups([groupId]);
  }

  private listTopics(): Promise<string[]> {
    return retrySettling(() => this.admin.listTopics());
  }

  /**
   * Runs a request about a topic, retrying while the cluster is still settling a new topic's
   * leaders (kafkajs does not refresh its metadata for these by itself).
   */
  private settled<T>(topic: string, request: () => Promise<T>): Promise<T> {
    return retrySettling(request, () => this.admin.fetchTopicMetadata({ topics: [topic] }));
  }

  private create(topic: string): Promise<void> {
    let pending = this.creating.get(topic);
    if (!pending) {
      pending = this.admin
        .createTopics({
          topics: [
            {
              topic,
              numPartitions: this.creation.partitions,
              replicationFactor: this.creation.replicationFactor,
              configEntries: [{ name: 'max.message.bytes', value: String(CREATED_TOPIC_MAX_MESSAGE_BYTES) }],
            },
          ],
          waitForLeaders: true,
        })
        .then(
          () => {
            this.known.add(topic);
          },
          async (error: unknown) => {
            const message = messageOf(error);
            // Another instance created it first: that is as good.
            if (/already exists/i.test(message)) {
              this.known.add(topic);
              return;
            }
            // Created, but kafkajs gave up waiting for the leaders: wait on our own terms.
            if (!isSettling(error)) throw error;
            await this.partitionsOf(topic, true);
            this.known.add(topic);
          },
        )
        .finally(() => this.creating.delete(topic));
      this.creating.set(topic, pending);
    }
    return pending;
  }
}

/**
 * Runs a Kafka request, retrying (about 15 s in all) while the cluster is still placing a new
 * topic's partitions, which kafkajs reports as errors instead of waiting; `between` may
 * refresh metadata before the next try.
 */
export async function retrySettling<T>(
  request: () => Promise<T>,
  between?: () => Promise<unknown>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (!isSettling(error) || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * attempt)));
      await between?.().catch(() => undefined);
    }
  }
}

/** Errors of a topic whose partitions are still being placed: worth another try shortly. */
function isSettling(error: unknown): boolean {
  return (
    error instanceof Error &&
    // A group coordinator still loading (a Kafka starting or restarted) settles the same way.
    /leader|UNKNOWN_TOPIC_OR_PARTITION|does not host|coordinator/i.test(`${error.name} ${error.message}`)
  );
}
