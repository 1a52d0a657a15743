import type { AppError } from '../../errors.ts';

/** A message of a topic as one subscription receives it (GraphQL TopicMessage). */
export interface TopicMessage {
  readonly topic: string;
  readonly key: string | null;
  readonly data: unknown;
  readonly timestamp: Date;
  /** Kafka partition; null for broker topics. */
  readonly partition: number | null;
  /** Kafka offset, or the broker's position. */
  readonly offset: string | null;
  /** Resume token of the subscription after this message (see topic-position.ts). */
  readonly position: string;
}

/**
 * What a topic feed hands to every subscriber it matches: parsed once, shared by all of them
 * (DESIGN.md decision 4); only the position differs per subscription.
 */
export interface FeedMessage {
  readonly topic: string;
  readonly key: string | null;
  /** Parsed JSON, or the text itself when the value is not JSON (never dropped). */
  readonly data: unknown;
  readonly timestamp: Date;
  readonly partition: number | null;
  /** Kafka offset; null for broker topics. */
  readonly kafkaOffset: bigint | null;
  /** Broker position; undefined for Kafka topics and for subjects the broker keeps no window of. */
  readonly brokerPosition: string | undefined;
  /** Size of the raw value, which is what a slow subscriber's buffer is charged. */
  readonly bytes: number;
}

/** One item of a topicMessages stream: a message, or the error that ends the stream. */
export type TopicDelivery =
  | { readonly kind: 'message'; readonly message: TopicMessage }
  | { readonly kind: 'failure'; readonly error: AppError };

/** JSON when the bytes are JSON, else the text: Kafka and broker values are never dropped for their format. */
export function decodeValue(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
