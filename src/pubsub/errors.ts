import { NoProviderError, TimeoutError, UnavailableError } from '../errors.ts';

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

/** A subject or pattern that breaks the token rules. */
export class InvalidSubjectError extends Error {
  constructor(subject: string, reason: string) {
    super(`invalid subject "${subject}": ${reason}`);
    this.name = 'InvalidSubjectError';
  }
}
