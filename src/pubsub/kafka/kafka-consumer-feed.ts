import type { Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { MessageHeaders } from '../broker.ts';
import { BrokerUnavailableError } from '../errors.ts';
import type { BrokerFeed } from '../shared-subscriptions.ts';
import { subjectMatches } from '../subject-pattern.ts';
import { encodeKafkaPosition } from './kafka-position.ts';
import type { KafkaSubjectMapping, KafkaTopicSelection } from './kafka-subject-mapping.ts';
import { type KafkaTopicAdmin, type PartitionOffsets, retrySettling } from './kafka-topic-admin.ts';

/** Headers streamgate adds for itself; they are not passed on to subscribers. */
export const INTERNAL_HEADERS = {
  subject: 'streamgate-subject',
  replyTo: 'streamgate-reply-to',
  correlation: 'streamgate-correlation',
  error: 'streamgate-error',
} as const;
const INTERNAL_PREFIX = 'streamgate-';

/** One consumed Kafka record, with its subject and headers sorted out. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The record's subject; its topic when it maps to none (a feed without a pattern). */
  readonly subject: string;
  readonly key: Buffer | null;
  /** null: a tombstone. */
  readonly value: Buffer | null;
  readonly payload: Uint8Array;
  readonly headers: MessageHeaders;
  readonly internal: Readonly<Partial<Record<keyof typeof INTERNAL_HEADERS, string>>>;
  readonly timestamp: Date;
  /** The cursor after this record, when the feed tracks positions. */
  readonly position: string | undefined;
}

export interface KafkaFeedDependencies {
  readonly kafka: Kafka;
  readonly topics: KafkaTopicAdmin;
  readonly mapping: KafkaSubjectMapping;
  /** Closings in progress, so that the broker's close can wait for them. */
  readonly closing: Set<Promise<void>>;
  /** Topics of the broker's own plumbing (replies), never read by a wildcard subscription. */
  readonly reservedTopics: ReadonlySet<string>;
  /**
   * How long a consumer may go without a fetch answered (Kafka down, its topic gone, its group
   * unable to rejoin) before the feed fails with BrokerUnavailableError instead of retrying
   * forever: max(30 s, BROKER_CONNECT_TIMEOUT), as for NATS. Counted only while `isConnected`:
   * while Kafka is unreachable the subscription stays open and keeps its place.
   */
  readonly resumeTimeoutMs: number;
  /** Whether Kafka answers (the broker's health monitor). */
  readonly isConnected: () => boolean;
}

export interface KafkaFeedSpec {
  /**
   * Records whose subject does not match are skipped. Undefined: every record of the topics
   * (Kafka-sourced topics, written by producers that know nothing of subjects).
   */
  readonly pattern: string | undefined;
  readonly selection: KafkaTopicSelection;
  readonly groupId: string;
  /**
   * `own`: a group of this feed alone, started at `start` and deleted on close. `shared`: a
   * queue group; it keeps its committed offsets, and starts at the end (as of opening) of
   * partitions it has none for.
   */
  readonly group: 'own' | 'shared';
  /** Where each topic starts for an `own` group. */
  readonly start?: (topic: string) => Promise<PartitionOffsets>;
  /** Give each record the cursor position after it. */
  readonly trackPositions: boolean;
  /** Create missing topics (subscribers); a replay needs them to exist already. */
  readonly createTopics: boolean;
  /**
   * Never give up (responders, the reply listener): nobody could be told of the failure, so it
   * is restarted for as long as it takes, as kafkajs does. Subscriptions give up instead.
   */
  readonly endless?: boolean;
  /**
   * `skip` (the default): a record this feed already delivered (read again after a restart that
   * resumed from a lagging commit) is dropped here. `pass`: the reader keeps a cursor per
   * subscriber and skips by it (Kafka-sourced topics), so records read again after a `rewind`
   * or a restart are passed on; only a gap is still checked.
   */
  readonly redelivered?: 'skip' | 'pass';
}

/** A broker feed that can also be moved back in a partition it reads. */
export interface KafkaFeed extends BrokerFeed {
  /**
   * Reads `partition` of `topic` again from `offset` (no-op when the feed is not past it): the
   * records from there are delivered again, so a `skip` feed's subscribers would see them twice.
   */
  rewind(topic: string, partition: number, offset: number): void;
  /** Leaves the group (and deletes an own one); resolves when done. */
  close(): Promise<void>;
}

/** Records a feed had not read yet were deleted (retention, a delete) before it got to them. */
export class KafkaRecordsDeletedError extends BrokerUnavailableError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly from: number,
    readonly to: number,
  ) {
    super(`records ${from}..${to} of ${topic}[${partition}] were deleted before this subscription read them`);
  }
}

/**
 * A kafkajs consumer as a broker feed: the group's offsets are set before it joins, so there
 * is no window in which it reads from the wrong place, and `ready` resolves once it has joined.
 * It fails (its subscribers end with UNAVAILABLE) rather than go on silently when it cannot
 * resume: no fetch answered within `resumeTimeoutMs` of Kafka being reachable, or records it
 * had not delivered yet deleted meanwhile (kafkajs would jump to the end without a word).
 */
export function openKafkaFeed(
  dependencies: KafkaFeedDependencies,
  spec: KafkaFeedSpec,
  onRecord: (record: ConsumedRecord) => void,
  onFailure: (error: Error) => void,
): KafkaFeed {
  const { kafka, topics, mapping, resumeTimeoutMs, isConnected } = dependencies;
  const passRedelivered = spec.redelivered === 'pass';
  let consumer: Consumer | undefined;
  let stopped = false;
  let watchdog: NodeJS.Timeout | undefined;
  // When the consumer last made progress: a fetch answered (also an empty one), or a join;
  // while Kafka is unreachable the clock stands still (the budget starts when it is back).
  let lastProgress = Date.now();
  const stalledMs = () => {
    if (!isConnected()) lastProgress = Date.now();
    return Date.now() - lastProgress;
  };
  // Resolves the wait for the first join when the feed ends before it (close, failure).
  let abandonJoin = () => {};
  const fail = (error: Error) => {
    if (stopped) return;
    stopped = true;
    clearInterval(watchdog);
    abandonJoin();
    onFailure(error);
  };
  // Until the consumer first joins, its starts are where it begins; after, moves are seeks.
  let firstJoin = true;
  const cursor: Record<string, Record<string, number>> = {};
  // The next offset this feed has not delivered, per topic and partition: after a broker
  // restart the consumer resumes from its last commit, which can lag what it already delivered.
  const delivered = new Map<string, number>();
  const starts = new Map<string, PartitionOffsets>();
  // Rewinds not yet seen in effect (no record at or before the offset read since): kafkajs
  // forgets a seek when it restarts the consumer, so each later join seeks again.
  const rewinds = new Map<string, { topic: string; partition: number; offset: number }>();

  const ready = (async () => {
    const names =
      'topics' in spec.selection
        ? [...spec.selection.topics]
        : (await topics.matching(spec.selection.regex)).filter(
            (topic) => !dependencies.reservedTopics.has(topic),
          );
    if (names.length === 0) return; // nothing to read (yet): a wildcard over no existing topic
    if (spec.createTopics) await topics.ensureTopics(names);
    for (const topic of names) {
      const offsets =
        spec.group === 'own' ? await startOf(spec, topic) : await unsetToEnd(topics, spec.groupId, topic);
      starts.set(topic, offsets);
      if (spec.trackPositions)
        cursor[topic] = Object.fromEntries([...offsets].map(([p, o]) => [String(p), o]));
      // Where each partition must go on: a record past this with the ones between deleted is a loss.
      for (const [partition, offset] of offsets) {
        // A rewind asked for while the start was being read goes back further.
        const key = `${partition}:${topic}`;
        const rewound = rewinds.get(key)?.offset;
        if (rewound !== undefined && rewound < offset) offsets.set(partition, rewound);
        delivered.set(key, offsets.get(partition) ?? offset);
      }
    }
    if (stopped) return;
    const member = kafka.consumer({
      groupId: spec.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      // kafkajs restarts a crashed consumer forever by default; within the budget only.
      retry: {
        retries: 10,
        restartOnFailure: async () => !stopped && (spec.endless === true || stalledMs() <= resumeTimeoutMs),
      },
    });
    consumer = member;
    const joined = new Promise<void>((resolve) => {
      abandonJoin = resolve;
      member.on(member.events.GROUP_JOIN, ({ payload }) => {
        // Seeks made here apply before the first fetch, and kafkajs commits them, so a
        // restarted consumer resumes there too. The starts only on the first join: later ones
        // (rebalances, restarts) resume from what the group committed since, except where a
        // rewind has not been seen in effect yet (kafkajs dropped its seek with the consumer).
        lastProgress = Date.now();
        const first = firstJoin;
        firstJoin = false;
        for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
          for (const partition of partitions) {
            const offset = first
              ? starts.get(topic)?.get(partition)
              : rewinds.get(`${partition}:${topic}`)?.offset;
            if (offset !== undefined) member.seek({ topic, partition, offset: String(offset) });
          }
        }
        resolve();
      });
    });
    member.on(member.events.FETCH, () => {
      lastProgress = Date.now();
    });
    member.on(member.events.CRASH, ({ payload }) => {
      if (!payload.restart) fail(payload.error);
    });
    await member.connect();
    await retrySettling(() => member.subscribe({ topics: names, fromBeginning: false }));
    await member.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (stopped) return;
        const offset = Number(message.offset);
        const key = `${partition}:${topic}`;
        const expected = delivered.get(key);
        const rewound = rewinds.get(key);
        if (rewound && offset <= rewound.offset) rewinds.delete(key);
        if (passRedelivered) delivered.set(key, offset + 1);
        else if (!firstDelivery(delivered, topic, partition, offset)) return;
        if (expected !== undefined && offset > expected && spec.endless !== true) {
          // A gap: compaction or transaction markers, or records deleted before we read them.
          const oldest = (await topics.startOffsets(topic)).get(partition) ?? 0;
          if (oldest > expected) {
            fail(new KafkaRecordsDeletedError(topic, partition, expected, oldest - 1));
            return;
          }
        }
        const { pattern } = spec;
        const record = toRecord(mapping, topic, partition, message, {
          cursor: spec.trackPositions ? cursor : undefined,
          // Without a pattern every record counts, also one that maps to no subject.
          fallbackSubject: pattern === undefined ? topic : undefined,
        });
        if (record && (pattern === undefined || subjectMatches(pattern, record.subject))) onRecord(record);
      },
    });
    await joined;
    if (stopped || spec.endless === true) return;
    lastProgress = Date.now();
    watchdog = setInterval(
      () => {
        if (stalledMs() > resumeTimeoutMs) {
          fail(new Error(`Kafka answered no fetch of this consumer for ${resumeTimeoutMs} ms`));
        }
      },
      Math.min(1_000, resumeTimeoutMs / 4),
    );
    watchdog.unref();
  })();

  let closed: Promise<void> | undefined;
  return {
    ready,
    rewind(topic, partition, offset) {
      const key = `${partition}:${topic}`;
      const next = delivered.get(key);
      if (stopped || (next !== undefined && next <= offset)) return;
      delivered.set(key, offset);
      rewinds.set(key, { topic, partition, offset });
      starts.get(topic)?.set(partition, offset);
      // Before the first join the start above is where it begins; after it, seek now (kafkajs
      // drops what it fetched of the partition and reads on from there).
      if (consumer && !firstJoin) {
        try {
          consumer.seek({ topic, partition, offset: String(offset) });
        } catch {
          // Not running (restarting): the next join seeks there.
        }
      }
    },
    close() {
      stopped = true;
      clearInterval(watchdog);
      abandonJoin();
      closed ??= (async () => {
        await ready.catch(() => undefined);
        await consumer?.disconnect().catch(() => undefined);
        if (spec.group === 'own') await topics.deleteGroup(spec.groupId).catch(() => undefined);
      })();
      const closing = closed;
      dependencies.closing.add(closing);
      void closing.finally(() => dependencies.closing.delete(closing));
      return closing;
    },
  };
}

async function startOf(spec: KafkaFeedSpec, topic: string): Promise<PartitionOffsets> {
  if (!spec.start) throw new Error(`no start for the own group ${spec.groupId}`);
  return spec.start(topic);
}

/** True the first time a feed sees this offset; re-fetched records are skipped (no duplicates). */
function firstDelivery(
  delivered: Map<string, number>,
  topic: string,
  partition: number,
  offset: number,
): boolean {
  const key = `${partition}:${topic}`;
  const next = delivered.get(key);
  if (next !== undefined && offset < next) return false;
  delivered.set(key, offset + 1);
  return true;
}

/** A queue group starts at the end of partitions it has no committed offset for. */
async function unsetToEnd(
  topics: KafkaTopicAdmin,
  groupId: string,
  topic: string,
): Promise<PartitionOffsets> {
  const [committed, end] = await Promise.all([
    topics.committedOffsets(groupId, topic),
    topics.endOffsets(topic),
  ]);
  const unset: PartitionOffsets = new Map();
  for (const [partition, offset] of end)
    if ((committed.get(partition) ?? -1) < 0) unset.set(partition, offset);
  return unset;
}

function toRecord(
  mapping: KafkaSubjectMapping,
  topic: string,
  partition: number,
  message: KafkaMessage,
  options: {
    readonly cursor: Record<string, Record<string, number>> | undefined;
    readonly fallbackSubject: string | undefined;
  },
): ConsumedRecord | undefined {
  const { cursor } = options;
  const { headers, internal } = splitHeaders(message.headers);
  const subject =
    mapping.subjectOf(topic, message.key?.toString(), internal.subject) ?? options.fallbackSubject;
  if (subject === undefined) return undefined;
  const offset = Number(message.offset);
  const timestamp = Number(message.timestamp);
  let position: string | undefined;
  if (cursor) {
    const partitions = cursor[topic] ?? {};
    partitions[String(partition)] = offset + 1;
    cursor[topic] = partitions;
    position = encodeKafkaPosition({ t: timestamp, o: cursor });
  }
  const value = message.value ?? Buffer.alloc(0);
  return {
    topic,
    partition,
    offset,
    subject,
    key: message.key,
    value: message.value,
    payload: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
    headers,
    internal,
    timestamp: new Date(timestamp),
    position,
  };
}

function splitHeaders(raw: IHeaders | undefined): {
  headers: Record<string, string>;
  internal: Partial<Record<keyof typeof INTERNAL_HEADERS, string>>;
} {
  const headers: Record<string, string> = {};
  const internal: Partial<Record<keyof typeof INTERNAL_HEADERS, string>> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.map(String).join(', ') : value.toString();
    if (!key.startsWith(INTERNAL_PREFIX)) {
      headers[key] = text;
      continue;
    }
    for (const [name, header] of Object.entries(INTERNAL_HEADERS)) {
      if (header === key) internal[name as keyof typeof INTERNAL_HEADERS] = text;
    }
  }
  return { headers, internal };
}
