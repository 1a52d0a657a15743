import type { Broker, MessageToPublish, PublishOutcome } from './broker.ts';

/**
 * `publishMany` from `publish`: every message is handed to the broker before any answer is
 * awaited, which is all a batch needs where the client already pipelines (ioredis writes
 * commands back to back without waiting for replies; the Kafka publisher puts what is queued
 * into one produce request).
 */
export function publishEach(
  publish: Broker['publish'],
  messages: readonly MessageToPublish[],
): Promise<PublishOutcome[]> {
  return Promise.allSettled(
    messages.map((message) => publish(message.subject, message.payload, { headers: message.headers })),
  );
}
