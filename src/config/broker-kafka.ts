import type { EnvReader } from './env-reader.ts';
import { isConcreteSubject } from './subject-syntax.ts';

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** One rule of KAFKA_TOPIC_MAP: subjects starting with these tokens go to this topic. */
export interface KafkaTopicRule {
  readonly subjectPrefix: string;
  readonly topic: string;
}

/** How streamgate reaches Kafka (every Kafka client in the server) and maps subjects to topics. */
export interface KafkaBrokerConfig {
  /** TLS to the brokers. @default false (KAFKA_SSL) */
  readonly ssl: boolean;
  /** SASL credentials. @default none (KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD) */
  readonly sasl:
    | { readonly mechanism: KafkaSaslMechanism; readonly username: string; readonly password: string }
    | undefined;
  /** Prefix of the topics the broker derives from subjects. @default "streamgate." (KAFKA_TOPIC_PREFIX) */
  readonly topicPrefix: string;
  /**
   * How many leading subject tokens name the topic; the rest is the message key.
   * @default 1 (KAFKA_TOPIC_SUBJECT_TOKENS): `monitor.dev-1` → topic `streamgate.monitor`, key `dev-1`
   */
  readonly topicSubjectTokens: number;
  /** Explicit topics for subject prefixes, first match wins: `monitor=apigear.monitor,…`. @default none (KAFKA_TOPIC_MAP) */
  readonly topicMap: readonly KafkaTopicRule[];
  /** Create missing topics on first use. @default true (KAFKA_AUTO_CREATE_TOPICS) */
  readonly autoCreateTopics: boolean;
  /** Partitions of a created topic (queue groups spread by partition). @default 6 (KAFKA_TOPIC_PARTITIONS) */
  readonly topicPartitions: number;
  /** Replication factor of a created topic; -1 = the cluster's default. @default -1 (KAFKA_REPLICATION_FACTOR) */
  readonly replicationFactor: number;
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** Where the Kafka cluster is and who streamgate is to it (every Kafka client of the server). */
export interface KafkaConnectionConfig {
  /** @default ["127.0.0.1:9092"] (KAFKA_BROKERS) */
  readonly kafkaBrokers: readonly string[];
  /** @default "streamgate" (KAFKA_CLIENT_ID) */
  readonly kafkaClientId: string;
}

export function readKafkaConnectionConfig(read: EnvReader): KafkaConnectionConfig {
  return {
    kafkaBrokers: read.list('KAFKA_BROKERS', ['127.0.0.1:9092']),
    kafkaClientId: read.string('KAFKA_CLIENT_ID', 'streamgate'),
  };
}

/** Reads the KAFKA_* variables of the Kafka broker. */
export function readKafkaBrokerConfig(read: EnvReader): KafkaBrokerConfig {
  const mechanism = read.raw('KAFKA_SASL_MECHANISM')
    ? read.oneOf('KAFKA_SASL_MECHANISM', KAFKA_SASL_MECHANISMS, 'plain')
    : undefined;
  const username = read.optionalString('KAFKA_SASL_USERNAME');
  const password = read.optionalString('KAFKA_SASL_PASSWORD');
  if (mechanism && (username === undefined || password === undefined)) {
    read.report(
      'KAFKA_SASL_USERNAME',
      username ?? '',
      'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD with KAFKA_SASL_MECHANISM',
    );
  }
  const topicPrefix = read.string('KAFKA_TOPIC_PREFIX', 'streamgate.');
  if (!/^[A-Za-z0-9._-]{0,200}$/.test(topicPrefix)) {
    read.report('KAFKA_TOPIC_PREFIX', topicPrefix, 'letters, digits, ".", "_" or "-" (at most 200)');
  }
  return {
    ssl: read.boolean('KAFKA_SSL', false),
    sasl:
      mechanism && username !== undefined && password !== undefined
        ? { mechanism, username, password }
        : undefined,
    topicPrefix,
    topicSubjectTokens: read.int('KAFKA_TOPIC_SUBJECT_TOKENS', 1, { min: 1, max: 16 }),
    topicMap: readTopicMap(read),
    autoCreateTopics: read.boolean('KAFKA_AUTO_CREATE_TOPICS', true),
    topicPartitions: read.int('KAFKA_TOPIC_PARTITIONS', 6, { min: 1, max: 10_000 }),
    replicationFactor: read.int('KAFKA_REPLICATION_FACTOR', -1, { min: -1, max: 100 }),
  };
}

function readTopicMap(read: EnvReader): KafkaTopicRule[] {
  const rules: KafkaTopicRule[] = [];
  for (const entry of read.list('KAFKA_TOPIC_MAP', [])) {
    const [subjectPrefix = '', topic = '', ...rest] = entry.split('=').map((part) => part.trim());
    if (rest.length > 0 || !isConcreteSubject(subjectPrefix) || !TOPIC_NAME.test(topic)) {
      read.report('KAFKA_TOPIC_MAP', entry, 'comma-separated subject.prefix=topic-name rules');
      continue;
    }
    rules.push({ subjectPrefix, topic });
  }
  return rules;
}
