/**
 * What a failed Kafka produce means to the publisher: the message refused for good (too large,
 * not permitted: pubsub/errors.ts `isPermanentRefusal`) or an outage to retry. kafkajs tells a
 * refusal by the protocol error's `type`, which may sit under its retrier's wrapper (`cause`).
 */
import { brokerUnavailable, MessageTooLargeError, PublishDeniedError } from '../errors.ts';

/**
 * A produce request of several messages failed: what Kafka said (`cause`) is about the request,
 * not necessarily about each message (its size limit is on each partition's record batch; a
 * request of one partition refused as too large is sent again message by message instead).
 */
export class ProduceBatchError extends Error {
  constructor(cause: unknown, messages: number) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (a request of ${messages} messages)`, {
      cause,
    });
    this.name = 'ProduceBatchError';
  }
}

/** Refused because of its size: the broker's message.max.bytes or the topic's max.message.bytes. */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/** Refused because this client may not write the topic. */
const DENIED = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED']);

/** The kafkajs protocol error type of `error` or of its causes, if any. */
export function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = current.cause;
  }
  return undefined;
}

/** True when Kafka refused the produce request as too large. */
export function isTooLargeRefusal(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type === undefined
    ? error instanceof Error && /MESSAGE_TOO_LARGE|larger than the max message size/i.test(error.message)
    : TOO_LARGE.has(type);
}

/** True when Kafka refused a message sent alone for good: too large, or not permitted. */
export function isRefusalOfOne(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return isTooLargeRefusal(error) || (type !== undefined && DENIED.has(type));
}

/**
 * The error of one message whose produce request failed. Kafka's size limit is on the request's
 * record batch, so a request of several messages refused as too large says nothing for good about
 * each of them (ProduceBatchError): that is a refusal for good only when the message went alone.
 */
export function kafkaPublishError(subject: string, payload: Uint8Array, error: unknown): Error {
  if (isTooLargeRefusal(error)) {
    if (!(error instanceof ProduceBatchError))
      return new MessageTooLargeError(subject, payload.byteLength, undefined, messageOfKafka(error));
    return brokerUnavailable(
      `Kafka refused the produce request that carried the message on "${subject}" as too large`,
      error,
    );
  }
  const type = kafkaErrorType(error);
  if (type !== undefined && DENIED.has(type)) return new PublishDeniedError(subject, type, { cause: error });
  return brokerUnavailable(`Kafka could not take the message on "${subject}"`, error);
}

function messageOfKafka(error: unknown): string {
  const type = kafkaErrorType(error);
  const text = error instanceof Error ? error.message : String(error);
  return type === undefined ? text : `${type}: ${text}`;
}
