import type { KafkaTopicRule } from '../../config/broker-kafka.ts';
import { patternCovers, subjectMatches } from '../subject-pattern.ts';

/** Where one subject goes in Kafka: the topic, and the key (the rest of the subject). */
export interface KafkaAddress {
  readonly topic: string;
  readonly key: string;
}

/** The topics a pattern reads: a known list, or every topic a regular expression matches. */
export type KafkaTopicSelection = { readonly topics: readonly string[] } | { readonly regex: RegExp };

export interface KafkaMappingOptions {
  readonly topicPrefix: string;
  readonly topicSubjectTokens: number;
  readonly topicMap: readonly KafkaTopicRule[];
}

/**
 * Subjects → Kafka topics, in one place (DESIGN.md "Subjects"). An explicit rule of
 * KAFKA_TOPIC_MAP wins; otherwise the first `topicSubjectTokens` tokens name the topic under
 * the prefix (`monitor.dev-1` → `streamgate.monitor`) and the rest is the key, so one subject
 * stays in one partition and keeps its order. The subject itself travels in a header; a
 * message without it (a plain Kafka producer) gets its subject back from topic and key.
 */
export class KafkaSubjectMapping {
  constructor(private readonly options: KafkaMappingOptions) {}

  addressOf(subject: string): KafkaAddress {
    const rule = this.ruleOf(subject);
    const tokens = subject.split('.');
    const prefixTokens = rule ? rule.subjectPrefix.split('.').length : this.options.topicSubjectTokens;
    const rest = tokens.slice(prefixTokens).join('.');
    const topic = rule ? rule.topic : this.derivedTopic(tokens.slice(0, prefixTokens));
    return { topic, key: rest === '' ? subject : rest };
  }

  /** The topics whose messages can match `pattern`. */
  topicsOf(pattern: string): KafkaTopicSelection {
    const within = this.options.topicMap.find(
      (rule) => pattern === rule.subjectPrefix || patternCovers(`${rule.subjectPrefix}.>`, pattern),
    );
    if (within) return { topics: [within.topic] };
    const tokens = pattern.split('.');
    const ruleTopics = this.options.topicMap
      .filter((rule) => rulesOverlap(rule.subjectPrefix, pattern))
      .map((rule) => rule.topic);
    const prefix = tokens.slice(0, this.options.topicSubjectTokens);
    const wildcardInPrefix =
      prefix.some((token) => token === '*' || token === '>') ||
      tokens.length < this.options.topicSubjectTokens;
    if (!wildcardInPrefix) return { topics: unique([...ruleTopics, this.derivedTopic(prefix)]) };
    // A wildcard names no one topic: read every derived topic (and the mapped ones), then
    // filter by subject. kafkajs resolves the expression against the topics existing now.
    const ruleAlternatives = ruleTopics.map(escapeRegex);
    const derived = `${escapeRegex(this.options.topicPrefix)}[^.]+${'\\.[^.]+'.repeat(this.options.topicSubjectTokens - 1)}`;
    return { regex: new RegExp(`^(?:${[derived, ...ruleAlternatives].join('|')})$`) };
  }

  /** The subject of a consumed message: its header, else rebuilt from the topic and key. */
  subjectOf(topic: string, key: string | undefined, header: string | undefined): string | undefined {
    if (header) return header;
    const rule = this.options.topicMap.find((candidate) => candidate.topic === topic);
    const prefix = rule
      ? rule.subjectPrefix
      : topic.startsWith(this.options.topicPrefix)
        ? topic.slice(this.options.topicPrefix.length)
        : undefined;
    if (prefix === undefined) return undefined;
    if (!key) return prefix;
    return key.startsWith(`${prefix}.`) || key === prefix ? key : `${prefix}.${key}`;
  }

  private ruleOf(subject: string): KafkaTopicRule | undefined {
    return this.options.topicMap.find(
      (rule) => subject === rule.subjectPrefix || subject.startsWith(`${rule.subjectPrefix}.`),
    );
  }

  private derivedTopic(tokens: readonly string[]): string {
    // Topic names allow [A-Za-z0-9._-]; other characters map to "_" (subjects are filtered
    // after consumption, so two subjects sharing a topic this way still stay apart).
    return `${this.options.topicPrefix}${tokens.join('.')}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 249);
  }
}

/** True when some subject under `prefix` (the prefix itself or deeper) matches `pattern`. */
function rulesOverlap(prefix: string, pattern: string): boolean {
  return (
    subjectMatches(pattern, prefix) ||
    patternCovers(pattern, `${prefix}.>`) ||
    patternCovers(`${prefix}.>`, pattern) ||
    overlapsDeeper(prefix, pattern)
  );
}

/** `a.*.c` against prefix `a.b`: a pattern reaching below the prefix through wildcards. */
function overlapsDeeper(prefix: string, pattern: string): boolean {
  const prefixTokens = prefix.split('.');
  const patternTokens = pattern.split('.');
  for (let index = 0; index < prefixTokens.length; index++) {
    const token = patternTokens[index];
    if (token === undefined) return false;
    if (token === '>') return true;
    if (token !== '*' && token !== prefixTokens[index]) return false;
  }
  return patternTokens.length > prefixTokens.length;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
