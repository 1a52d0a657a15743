import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { parseTopicsFile, readTopicsFile } from '../../src/domain/topics/topics-file.ts';

function problemsOf(text: string): string[] {
  try {
    parseTopicsFile(text, 'topics.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.expected);
    throw error;
  }
  return [];
}

describe('TOPICS_FILE', () => {
  it('reads examples/topics.yaml: the three topics of the old service', async () => {
    const topics = await readTopicsFile(new URL('../../examples/topics.yaml', import.meta.url).pathname);
    expect(topics.map((topic) => topic.name)).toEqual([
      'served.market.latest_prices.v1',
      'pricing.curve.updates.v1',
      'market.data.updates.v1',
    ]);
    expect(topics[0]).toMatchObject({ source: 'KAFKA', kafkaTopic: 'served.market.latest_prices.v1' });
  });

  it('fills the defaults: broker source, kafkaTopic = name, no roles, every tenant', () => {
    const [broker, kafka] = parseTopicsFile(
      'topics:\n  - name: a.b\n  - name: c.d\n    source: KAFKA\n    requiredRoles: [x]\n    tenants: [t1]\n',
    );
    expect(broker).toEqual({
      name: 'a.b',
      description: null,
      source: 'BROKER',
      kafkaTopic: null,
      requiredRoles: [],
      tenants: [],
    });
    expect(kafka).toMatchObject({
      source: 'KAFKA',
      kafkaTopic: 'c.d',
      requiredRoles: ['x'],
      tenants: ['t1'],
    });
  });

  it.each([
    ['not YAML', 'topics: [a', 'valid YAML'],
    ['no topics list', 'things: []', 'a "topics" list'],
    [
      'a bad source',
      'topics:\n  - name: a\n    source: kafak',
      'topics[0] ("a"): source must be "kafka" or "broker", got "kafak"',
    ],
    ['a bad name', 'topics:\n  - name: "a b"', 'topics[0] ("a b"): name must be'],
    ['a missing name', 'topics:\n  - source: kafka', 'topics[0]: name must be'],
    [
      'a duplicate',
      'topics:\n  - name: a\n  - name: a',
      'topics[1] ("a"): name is already used by topics[0]',
    ],
    [
      'a misspelt key',
      'topics:\n  - name: a\n    requiredRole: [x]',
      'topics[0] ("a"): unknown key "requiredRole"',
    ],
    [
      'roles that are not a list',
      'topics:\n  - name: a\n    requiredRoles: admin',
      'requiredRoles must be a list',
    ],
    [
      'kafkaTopic on a broker topic',
      'topics:\n  - name: a\n    kafkaTopic: b',
      'kafkaTopic is only allowed with source: kafka',
    ],
    [
      'one Kafka topic for two topics',
      'topics:\n  - name: a\n    source: kafka\n    kafkaTopic: k\n  - name: b\n    source: kafka\n    kafkaTopic: k',
      'topics[1] ("b"): kafkaTopic "k" is already consumed for topics[0]',
    ],
  ])('stops on %s, naming the entry and the problem', (_name, text, problem) => {
    const problems = problemsOf(text);
    expect(problems.join('\n')).toContain(problem);
  });

  it('reports every bad entry at once', () => {
    expect(problemsOf('topics:\n  - name: a\n    source: x\n  - name: "b c"')).toHaveLength(2);
  });

  it('says when the file cannot be read', async () => {
    await expect(readTopicsFile('/nonexistent/topics.yaml')).rejects.toThrow(
      'TOPICS_FILE="/nonexistent/topics.yaml"',
    );
  });
});
