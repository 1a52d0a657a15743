import {
  BadUserInputError,
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

/** A message bigger than the broker accepts. */
export class MessageTooLargeError extends PayloadTooLargeError {
  constructor(subject: string, bytes: number, limitBytes: number | undefined) {
    super(
      `a message of ${bytes} bytes on "${subject}" is larger than the broker accepts${limitBytes === undefined ? '' : ` (${limitBytes} bytes)`}`,
    );
  }
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
