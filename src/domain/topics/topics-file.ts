import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../config/config.ts';
import { isRecord } from '../../type-guards.ts';
import { isValidTopicName, TOPIC_NAME_RULE, TOPIC_SOURCES, type TopicDefinition } from './topic.ts';

/**
 * TOPICS_FILE cannot be used: it names the entry and what is wrong with it. A ConfigError, so
 * that start-up stops with exit code 2 like any other bad setting.
 */
export class TopicsFileError extends ConfigError {
  constructor(path: string, problems: readonly string[]) {
    super(problems.map((expected) => ({ variable: 'TOPICS_FILE', value: path, expected })));
    this.name = 'TopicsFileError';
  }
}

const KNOWN_KEYS = new Set(['name', 'description', 'source', 'kafkaTopic', 'requiredRoles', 'tenants']);
const KAFKA_TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** Reads and checks the topics file; every problem in it is reported at once. */
export async function readTopicsFile(path: string): Promise<TopicDefinition[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TopicsFileError(path, [`a readable file (${(error as Error).message})`]);
  }
  return parseTopicsFile(text, path);
}

/** Parses the YAML text of a topics file (see examples/topics.yaml). */
export function parseTopicsFile(text: string, path = 'topics file'): TopicDefinition[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new TopicsFileError(path, [`valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  if (!isRecord(document) || !Array.isArray(document.topics)) {
    throw new TopicsFileError(path, ['a YAML mapping with a "topics" list at the top']);
  }
  const problems: string[] = [];
  const topics: TopicDefinition[] = [];
  const names = new Map<string, number>();
  const kafkaTopics = new Map<string, number>();
  document.topics.forEach((entry: unknown, index: number) => {
    const label =
      isRecord(entry) && typeof entry.name === 'string'
        ? `topics[${index}] ("${entry.name}")`
        : `topics[${index}]`;
    const fail = (problem: string) => problems.push(`${label}: ${problem}`);
    if (!isRecord(entry)) {
      fail('must be a mapping with at least a name');
      return;
    }
    for (const key of Object.keys(entry)) {
      if (!KNOWN_KEYS.has(key)) fail(`unknown key "${key}" (known: ${[...KNOWN_KEYS].join(', ')})`);
    }
    const { name, description, source, kafkaTopic, requiredRoles, tenants } = entry;
    if (typeof name !== 'string' || !isValidTopicName(name)) {
      fail(`name must be ${TOPIC_NAME_RULE}, got ${JSON.stringify(name)}`);
      return;
    }
    const earlier = names.get(name);
    if (earlier !== undefined) fail(`name is already used by topics[${earlier}]`);
    names.set(name, index);
    if (description !== undefined && description !== null && typeof description !== 'string') {
      fail('description must be text');
    }
    const sourceText =
      source === undefined ? 'broker' : typeof source === 'string' ? source.toLowerCase() : '';
    if (sourceText !== 'kafka' && sourceText !== 'broker') {
      fail(`source must be "kafka" or "broker", got ${JSON.stringify(source)}`);
      return;
    }
    const isKafka = sourceText === 'kafka';
    if (!isKafka && kafkaTopic !== undefined) fail('kafkaTopic is only allowed with source: kafka');
    const kafkaName = isKafka ? (kafkaTopic ?? name) : null;
    if (isKafka && (typeof kafkaName !== 'string' || !KAFKA_TOPIC_NAME.test(kafkaName))) {
      fail(
        `kafkaTopic must be a Kafka topic name (letters, digits, ".", "_", "-"), got ${JSON.stringify(kafkaTopic)}`,
      );
      return;
    }
    if (typeof kafkaName === 'string') {
      const other = kafkaTopics.get(kafkaName);
      if (other !== undefined) fail(`kafkaTopic "${kafkaName}" is already consumed for topics[${other}]`);
      kafkaTopics.set(kafkaName, index);
    }
    const roles = stringList(requiredRoles, 'requiredRoles', fail);
    const allowedTenants = stringList(tenants, 'tenants', fail);
    topics.push({
      name,
      description: typeof description === 'string' ? description : null,
      source: isKafka ? TOPIC_SOURCES.KAFKA : TOPIC_SOURCES.BROKER,
      kafkaTopic: typeof kafkaName === 'string' ? kafkaName : null,
      requiredRoles: roles,
      tenants: allowedTenants,
    });
  });
  if (problems.length > 0) throw new TopicsFileError(path, problems);
  return topics;
}

function stringList(value: unknown, key: string, fail: (problem: string) => void): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.trim() !== '')) {
    fail(`${key} must be a list of non-empty strings, got ${JSON.stringify(value)}`);
    return [];
  }
  return [...new Set(value.map((item: string) => item.trim()))];
}
