/** Where a topic's messages come from, as an `as const` object (STYLE.md example 9). */
export const TOPIC_SOURCES = { BROKER: 'BROKER', KAFKA: 'KAFKA' } as const;
export type TopicSource = (typeof TOPIC_SOURCES)[keyof typeof TOPIC_SOURCES];

/** A topic of the registry: what it is, where it comes from, and who may see it. */
export interface TopicDefinition {
  readonly name: string;
  readonly description: string | null;
  readonly source: TopicSource;
  /** The Kafka topic consumed for a KAFKA topic (the name unless the registry says otherwise). */
  readonly kafkaTopic: string | null;
  /** One of them is needed to subscribe; empty means any authenticated caller. */
  readonly requiredRoles: readonly string[];
  /** Tenants that may see the topic; empty means every tenant. */
  readonly tenants: readonly string[];
}

/** Kafka's own limit on topic names; streamgate names become Kafka names by default. */
export const MAX_TOPIC_NAME_LENGTH = 249;

// Dot-separated tokens of letters, digits, `_` and `-`: valid as a Kafka topic name and as the
// tokens of a broker subject (no wildcards, no white space, no empty token).
const TOPIC_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** True when `name` is well-formed for a topic (legacy INVALID_TOPIC_FORMAT otherwise). */
export function isValidTopicName(name: string): boolean {
  return name.length <= MAX_TOPIC_NAME_LENGTH && TOPIC_NAME.test(name);
}

/** Why a topic name is rejected, for error messages. */
export const TOPIC_NAME_RULE =
  'dot-separated words of letters, digits, "_" and "-" (e.g. "pricing.curve.updates.v1"), at most 249 characters';
