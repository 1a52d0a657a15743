import type { Broker, RespondOptions } from '../pubsub/broker.ts';

/**
 * One subject's request/reply as an inbound transport sees it (the legacy record RPC): the
 * composition root binds it to a broker subject and queue group; the transport only turns
 * request payloads into reply payloads and never sees the broker.
 */
export interface RequestEndpoint {
  /** Answers every request with `handler`'s reply until the returned handle is stopped. */
  respond(handler: (payload: Uint8Array) => Promise<Uint8Array>): Promise<{ stop(): Promise<void> }>;
}

/** `subject` on `broker` as a RequestEndpoint (instances of one queue group answer once between them). */
export function brokerRequestEndpoint(
  broker: Broker,
  subject: string,
  options: RespondOptions,
): RequestEndpoint {
  return {
    respond: (handler) =>
      broker.respond(subject, async (message) => ({ payload: await handler(message.payload) }), options),
  };
}
