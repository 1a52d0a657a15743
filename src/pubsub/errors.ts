import {
  BadUserInputError,
  ForbiddenError,
  messageOf,
  NoProviderError,
  PayloadTooLargeError,
  ServerFault,
  TimeoutError,
  UnavailableError,
} from '../errors.ts';

/** Nobody listens on the subject of a request (where the broker can tell at once). */
export class NoRespondersError extends NoProviderError {
  readonly subject: string;
  constructor(subject: string) {
    super(`no responder on "${subject}"`);
    this.subject = subject;
  }
}

/** A request got no reply in time. */
export class RequestTimeoutError extends TimeoutError {
  readonly subject: string;
  constructor(subject: string, timeoutMs: number) {
    super(`no reply on "${subject}" within ${timeoutMs} ms`);
    this.subject = subject;
  }
}

/** The responder answered with an error. */
export class RemoteError extends UnavailableError {}

/** The broker cannot be reached or the client is closed. */
export class BrokerUnavailableError extends UnavailableError {}

/** `what` failed because the broker could not be reached or refused: UNAVAILABLE, cause attached. */
export function brokerUnavailable(what: string, cause: unknown): BrokerUnavailableError {
  return new BrokerUnavailableError(`${what}: ${messageOf(cause)}`, { cause });
}

/**
 * A message bigger than the broker accepts: its max_payload, a JetStream stream's max_msg_size,
 * Kafka's message.max.bytes. `detail` is what the broker said, when it said more than that.
 */
export class MessageTooLargeError extends PayloadTooLargeError {
  constructor(subject: string, bytes: number, limitBytes: number | undefined, detail?: string) {
    super(
      `a message of ${bytes} bytes on "${subject}" is larger than the broker accepts${limitBytes === undefined ? '' : ` (${limitBytes} bytes)`}${detail === undefined ? '' : `: ${detail}`}`,
    );
  }
}

/** The broker does not permit publishing on the subject (an ACL or permission of the broker's). */
export class PublishDeniedError extends ForbiddenError {
  constructor(subject: string, detail: string, options?: { cause?: unknown }) {
    super(`the broker does not permit publishing on "${subject}": ${detail}`, options);
  }
}

/**
 * Not published because an earlier message of its subject in the same batch was not taken:
 * sending it would have put it ahead of that one (Broker.publishMany). Transient, like the
 * failure it waits behind (`cause`): send both again, in order.
 */
export class PublishHeldError extends BrokerUnavailableError {
  constructor(subject: string, cause: unknown) {
    super(`not published: an earlier message on "${subject}" was not taken (${messageOf(cause)})`, { cause });
  }
}

/**
 * True when the broker refused this very message for good, where it says so: a limit or a
 * permission of the broker's, not an outage, so publishing it again cannot succeed. Each backend
 * maps its own refusals to these errors (JetStream's error codes, kafkajs's error types, Redis's
 * NOPERM); anything else is taken as transient, and whoever retries bounds the attempts.
 */
export function isPermanentRefusal(error: unknown): boolean {
  return error instanceof MessageTooLargeError || error instanceof PublishDeniedError;
}

/** `from` on a pattern that no retained window covers: there is nothing to replay from. */
export class NotRetainedError extends BadUserInputError {
  readonly pattern: string;
  constructor(pattern: string) {
    super(`no retained window covers "${pattern}", so it cannot be read from a position or time`);
    this.pattern = pattern;
  }
}

/** A `from.after` that is not a position this backend hands out. */
export class InvalidPositionError extends BadUserInputError {
  constructor(position: string, expected: string) {
    super(`"${position.slice(0, 80)}" is not a broker position (expected ${expected})`);
  }
}

/** A retained window the backend cannot set up as asked (e.g. it overlaps another one). */
export class RetainConflictError extends ServerFault {}

/** Subscription options that cannot be combined. */
export class InvalidSubscribeOptionsError extends BadUserInputError {}

/** A subject or pattern that breaks the token rules. */
export class InvalidSubjectError extends BadUserInputError {
  constructor(subject: string, reason: string) {
    super(`invalid subject "${subject}": ${reason}`);
  }
}
