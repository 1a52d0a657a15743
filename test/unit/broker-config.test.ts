import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

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
});
