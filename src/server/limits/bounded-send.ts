import { closeReason } from '../close-codes.ts';

/**
 * Outbound queues bounded in bytes (DESIGN.md decision 5, MAX_CLIENT_BUFFER). A client that
 * does not read is closed once that much waits for it, instead of making the server hold more;
 * nothing upstream ever waits for one client, so others on the same stream are unaffected.
 * WebSockets have theirs in the socket core (socket-core.ts), SSE bodies in sse/event-stream.ts.
 */

/** The reason text of a slow-consumer close. */
export function slowConsumerReason(maxBufferedBytes: number): string {
  return closeReason(`LIMIT_EXCEEDED: slow consumer: more than ${maxBufferedBytes} bytes waiting to be sent`);
}
