import { randomUUID } from 'node:crypto';
import { isAppError } from '../errors.ts';
import type { BrokerMessage, MessageHeaders } from './broker.ts';
import { brokerUnavailable, RemoteError, RequestTimeoutError } from './errors.ts';

interface PendingRequest {
  readonly subject: string;
  resolve(message: BrokerMessage): void;
  reject(error: Error): void;
}

/** What came back for one correlation id: a reply, or the responder's error message. */
export type CorrelatedReply =
  | {
      readonly payload: Uint8Array;
      readonly headers: MessageHeaders;
      readonly timestamp: Date;
    }
  | { readonly error: string };

/**
 * The requester's half of request/reply for backends without native replies (Redis, Kafka):
 * each request waits under a fresh correlation id until its reply arrives, the timeout passes
 * (RequestTimeoutError) or the broker closes. A reply whose request gave up is dropped.
 */
export class RequestCorrelation {
  private readonly pending = new Map<string, PendingRequest>();

  /** `backend` names the broker in the UNAVAILABLE error of a request it could not carry. */
  constructor(private readonly backend: string) {}

  /**
   * Sends a request with `send(correlation)` and resolves with its reply. The timer runs from
   * before the send, so a send that hangs still ends in TIMEOUT. Errors of the API (TIMEOUT,
   * NO_PROVIDER, the responder's) pass; any other failure of `send` is UNAVAILABLE.
   */
  async request(
    subject: string,
    timeoutMs: number,
    send: (correlation: string) => Promise<void>,
  ): Promise<BrokerMessage> {
    const correlation = randomUUID();
    const reply = new Promise<BrokerMessage>((resolve, reject) => {
      this.pending.set(correlation, { subject, resolve, reject });
    });
    // Settled by the timer even when the send itself failed and nobody awaits it any more.
    reply.catch(() => undefined);
    const timer = setTimeout(() => {
      this.pending.get(correlation)?.reject(new RequestTimeoutError(subject, timeoutMs));
    }, timeoutMs);
    try {
      await send(correlation);
      return await reply;
    } catch (error) {
      if (isAppError(error)) throw error;
      throw brokerUnavailable(`${this.backend} could not carry the request on "${subject}"`, error);
    } finally {
      clearTimeout(timer);
      this.pending.delete(correlation);
    }
  }

  /** Settles the request waiting under `correlation`, if one still does. */
  settle(correlation: string | undefined, reply: CorrelatedReply): void {
    const pending = correlation === undefined ? undefined : this.pending.get(correlation);
    if (!pending) return; // late: the request timed out already
    if ('error' in reply) {
      pending.reject(new RemoteError(reply.error));
      return;
    }
    pending.resolve({ subject: pending.subject, ...reply, position: undefined });
  }

  /** Fails every waiting request with `error`. */
  failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
