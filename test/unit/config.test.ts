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

describe('loadConfig', () => {
  it('has the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      graphiql: true,
      shutdownTimeoutMs: 10_000,
    });
    expect(config.database).toEqual({
      url: undefined,
      pgliteDir: './.streamgate/db',
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 60_000,
      preparedStatements: true,
    });
    expect(config.broker.kind).toBe('memory');
    expect(config.log.level).toBe('info');
  });

  it('reads typed values', () => {
    const config = loadConfig({
      PORT: '8080',
      BROKER: 'NATS',
      SHUTDOWN_TIMEOUT: '5s',
      MAX_PAYLOAD_BYTES: '2mb',
      KAFKA_BROKERS: 'a:9092, b:9092',
      DATABASE_URL: 'postgres://u@h:5432/db',
      GRAPHIQL: 'false',
    });
    expect(config.http.port).toBe(8080);
    expect(config.broker.kind).toBe('nats');
    expect(config.http.shutdownTimeoutMs).toBe(5_000);
    expect(config.http.maxPayloadBytes).toBe(2 * 1024 * 1024);
    expect(config.broker.kafkaBrokers).toEqual(['a:9092', 'b:9092']);
    expect(config.database.url).toBe('postgres://u@h:5432/db');
    expect(config.http.graphiql).toBe(false);
  });

  it('turns prepared statements off for a pooler that does not keep them', () => {
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'off' }).database.preparedStatements).toBe(false);
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'true' }).database.preparedStatements).toBe(true);
  });

  it('names the variable, the value and what is expected', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(
      'config: PORT="abc" is invalid: expected an integer from 0 to 65535',
    );
  });

  it.each([
    [{ PORT: '70000' }, ['PORT']],
    [{ PORT: '-1' }, ['PORT']],
    [{ BROKER: 'rabbit' }, ['BROKER']],
    [{ SHUTDOWN_TIMEOUT: 'soon' }, ['SHUTDOWN_TIMEOUT']],
    [{ GRAPHIQL: 'maybe' }, ['GRAPHIQL']],
    [{ DATABASE_PREPARED_STATEMENTS: 'sometimes' }, ['DATABASE_PREPARED_STATEMENTS']],
    [{ DATABASE_URL: 'mysql://x' }, ['DATABASE_URL']],
    [{ NATS_URL: 'not a url' }, ['NATS_URL']],
    [{ LOG_LEVEL: 'loud' }, ['LOG_LEVEL']],
    [{ MAX_PAYLOAD_BYTES: 'lots' }, ['MAX_PAYLOAD_BYTES']],
  ])('rejects %j', (env, variables) => {
    expect(problemsOf(env)).toEqual(variables);
  });

  it('reports every bad variable at once, not just the first', () => {
    expect(problemsOf({ PORT: 'abc', BROKER: 'rabbit', LOG_LEVEL: 'loud' })).toEqual([
      'PORT',
      'BROKER',
      'LOG_LEVEL',
    ]);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ' }).http.port).toBe(4000);
  });
});
