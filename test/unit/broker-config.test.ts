import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.variable);
    throw error;
  }
  return [];
}

describe('broker configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}).broker).toMatchObject({
      kind: 'memory',
      natsUrl: 'nats://127.0.0.1:4222',
      requestTimeoutMs: 5_000,
      connectTimeoutMs: 10_000,
      reconnectMaxWaitMs: 5_000,
      natsRetainStorage: 'file',
      redisKeyPrefix: 'streamgate:',
    });
  });

  it('reads the connection and NATS settings', () => {
    const { broker } = loadConfig({
      BROKER: 'nats',
      NATS_URL: 'nats://user:secret@nats.internal:4222',
      BROKER_CONNECT_TIMEOUT: '30s',
      BROKER_RECONNECT_MAX_WAIT: '2s',
      NATS_RETAIN_STORAGE: 'memory',
    });
    expect(broker).toMatchObject({
      kind: 'nats',
      natsUrl: 'nats://user:secret@nats.internal:4222',
      connectTimeoutMs: 30_000,
      reconnectMaxWaitMs: 2_000,
      natsRetainStorage: 'memory',
    });
  });

  it.each([
    ['BROKER', 'rabbitmq'],
    ['NATS_URL', 'http://nats:4222'],
    ['BROKER_CONNECT_TIMEOUT', 'soon'],
    ['BROKER_RECONNECT_MAX_WAIT', '-1s'],
    ['NATS_RETAIN_STORAGE', 'disk'],
  ])('rejects %s=%j', (variable, value) => {
    expect(problemsOf({ [variable]: value })).toEqual([variable]);
  });

  it('reads the Kafka security and topic mapping', () => {
    const { kafka } = loadConfig({
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'sg',
      KAFKA_SASL_PASSWORD: 'secret',
      KAFKA_TOPIC_PREFIX: 'prod.sg.',
      KAFKA_TOPIC_SUBJECT_TOKENS: '2',
      KAFKA_TOPIC_MAP: 'monitor=apigear.monitor, processor.state=ism-states',
      KAFKA_AUTO_CREATE_TOPICS: 'false',
      KAFKA_TOPIC_PARTITIONS: '12',
      KAFKA_REPLICATION_FACTOR: '3',
    }).broker;
    expect(kafka).toEqual({
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'sg', password: 'secret' },
      topicPrefix: 'prod.sg.',
      topicSubjectTokens: 2,
      topicMap: [
        { subjectPrefix: 'monitor', topic: 'apigear.monitor' },
        { subjectPrefix: 'processor.state', topic: 'ism-states' },
      ],
      autoCreateTopics: false,
      topicPartitions: 12,
      replicationFactor: 3,
    });
  });

  it('has Kafka defaults', () => {
    expect(loadConfig({}).broker.kafka).toEqual({
      ssl: false,
      sasl: undefined,
      topicPrefix: 'streamgate.',
      topicSubjectTokens: 1,
      topicMap: [],
      autoCreateTopics: true,
      topicPartitions: 6,
      replicationFactor: -1,
    });
  });

  it.each([
    [
      { KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
      'KAFKA_SASL_MECHANISM',
    ],
    [{ KAFKA_SASL_MECHANISM: 'plain' }, 'KAFKA_SASL_USERNAME'],
    [{ KAFKA_TOPIC_MAP: 'monitor' }, 'KAFKA_TOPIC_MAP'],
    [{ KAFKA_TOPIC_MAP: 'monitor.*=x' }, 'KAFKA_TOPIC_MAP'],
    [{ KAFKA_TOPIC_MAP: 'monitor=bad topic' }, 'KAFKA_TOPIC_MAP'],
    [{ KAFKA_TOPIC_PREFIX: 'a/b' }, 'KAFKA_TOPIC_PREFIX'],
    [{ KAFKA_TOPIC_SUBJECT_TOKENS: '0' }, 'KAFKA_TOPIC_SUBJECT_TOKENS'],
    [{ KAFKA_TOPIC_PARTITIONS: 'many' }, 'KAFKA_TOPIC_PARTITIONS'],
    [{ KAFKA_REPLICATION_FACTOR: '-2' }, 'KAFKA_REPLICATION_FACTOR'],
    [{ KAFKA_SSL: 'maybe' }, 'KAFKA_SSL'],
    [{ REDIS_URL: 'http://redis' }, 'REDIS_URL'],
  ])('rejects %j', (env, variable) => {
    expect(problemsOf(env)).toEqual([variable]);
  });
});
