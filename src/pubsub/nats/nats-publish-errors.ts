/**
 * What a failed NATS publish means to the publisher: the message refused for good (too large
 * for the server or its stream, a subject this connection may not publish on: pubsub/errors.ts
 * `isPermanentRefusal`), or an outage to retry (BrokerUnavailableError). JetStream tells a
 * refusal by its error code; nats.js tells max_payload and permission violations by the error.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { type NatsConnection, errors as natsErrors } from '@nats-io/transport-node';
import {
  BrokerUnavailableError,
  brokerUnavailable,
  MessageTooLargeError,
  PublishDeniedError,
  PublishHeldError,
} from '../errors.ts';
import type { AckResult } from './nats-publish-acks.ts';

/**
 * JetStream's JSStreamMessageExceedsMaximumErr ("message size exceeds maximum allowed"): the
 * stream's max_msg_size is below the message. The same message is refused however often it is sent.
 */
const STREAM_MESSAGE_TOO_LARGE = 10054;

/** The largest message a stream takes (its max_msg_size), when known; resolved on the refusal's path only. */
export type StreamLimitOf = () => Promise<number | undefined>;

/** True when JetStream refused the message as larger than its stream's max_msg_size. */
export function isStreamSizeRefusal(failure: unknown): boolean {
  if (failure instanceof JetStreamApiError) return failure.code === STREAM_MESSAGE_TOO_LARGE;
  const answer = failure as AckResult | undefined;
  return answer?.kind === 'error' && answer.code === STREAM_MESSAGE_TOO_LARGE;
}

/** The error of a batched JetStream publish that was not stored. */
export function ackError(
  subject: string,
  payload: Uint8Array,
  nc: NatsConnection,
  answer: AckResult,
  streamLimit?: number,
): Error {
  if (answer.kind === 'held') {
    return new PublishHeldError(subject, ackError(subject, payload, nc, answer.behind, streamLimit));
  }
  if (answer.kind === 'timeout') {
    return new BrokerUnavailableError(`NATS did not confirm the message on "${subject}" in time`);
  }
  if (answer.kind === 'refused' || answer.kind === 'denied')
    return publishError(subject, payload, nc, answer.error);
  if (isStreamSizeRefusal(answer)) {
    return tooLargeForStream(subject, payload, answer.kind === 'error' ? answer.message : '', streamLimit);
  }
  return new BrokerUnavailableError(
    `NATS could not take the message on "${subject}": ${answer.kind === 'error' ? answer.message : answer.kind}`,
  );
}

/** The error of a publish that nats.js (or `js.publish`) failed with `error`. */
export function publishError(
  subject: string,
  payload: Uint8Array,
  nc: NatsConnection,
  error: unknown,
  streamLimit?: number,
): Error {
  if (error instanceof Error && /max_payload|maximum payload/i.test(error.message)) {
    return new MessageTooLargeError(subject, payload.byteLength, nc.info?.max_payload);
  }
  if (isStreamSizeRefusal(error)) {
    return tooLargeForStream(subject, payload, (error as JetStreamApiError).message, streamLimit);
  }
  const denied = publishDenial(error);
  if (denied) return new PublishDeniedError(subject, denied.message, { cause: error });
  if (error instanceof natsErrors.TimeoutError) {
    return new BrokerUnavailableError(`NATS did not confirm the message on "${subject}" in time`, {
      cause: error,
    });
  }
  return brokerUnavailable(`NATS could not take the message on "${subject}"`, error);
}

/** The server's publish permission violation, as such or under nats.js's RequestError (`js.publish`). */
function publishDenial(error: unknown): InstanceType<typeof natsErrors.PermissionViolationError> | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current instanceof Error; depth++) {
    if (current instanceof natsErrors.PermissionViolationError && current.operation === 'publish')
      return current;
    current = current.cause;
  }
  return undefined;
}

function tooLargeForStream(
  subject: string,
  payload: Uint8Array,
  description: string,
  limit: number | undefined,
): MessageTooLargeError {
  return new MessageTooLargeError(
    subject,
    payload.byteLength,
    limit,
    `its JetStream stream's max_msg_size (JetStream: ${description || 'message size exceeds maximum allowed'})`,
  );
}
