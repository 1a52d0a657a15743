/**
 * Monitor events the broker could never take, refused before anything of the request happens.
 * An event over the broker's message limit (NATS's max_payload, 1 MiB by default) would be
 * rejected by the publish alone; in a batch with others that were taken it would wait in the
 * device outbox, which publishes it again before every later message of the device, so every
 * later ingest of that device failed with it, for good. MONITOR_MAX_BODY_BYTES may be above the
 * broker's limit, so the body limit does not cover it.
 */
import { PayloadTooLargeError } from '../../errors.ts';
import type { Broker } from '../../pubsub/broker.ts';
import type { MonitorEvent } from './monitor-event.ts';

/**
 * What a published monitor message carries besides its payload and its header values: the six
 * header names with their separators, the header block's frame, the sequence's digits, a
 * timestamp's text, and the ids a chained batch adds (nats-publish-ids.ts), generously.
 */
const HEADER_ALLOWANCE_BYTES = 512;

/** Throws PAYLOAD_TOO_LARGE naming the first event whose message is over the broker's limit. */
export function assertBrokerTakes(
  broker: Broker,
  deviceId: string,
  events: readonly MonitorEvent[],
  texts: readonly string[],
): void {
  const limit = broker.maxMessageBytes?.();
  if (limit === undefined) return;
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as MonitorEvent;
    const text = texts[index] as string;
    const chars = text.length + deviceId.length + event.id.length + event.type.length + event.symbol.length;
    // A UTF-16 unit is at most 3 bytes of UTF-8: most events are far below the limit at once.
    if (chars * 3 + HEADER_ALLOWANCE_BYTES <= limit) continue;
    const bytes =
      Buffer.byteLength(text, 'utf8') +
      Buffer.byteLength(deviceId, 'utf8') +
      Buffer.byteLength(event.id, 'utf8') +
      Buffer.byteLength(event.type, 'utf8') +
      Buffer.byteLength(event.symbol, 'utf8') +
      HEADER_ALLOWANCE_BYTES;
    if (bytes > limit)
      throw new PayloadTooLargeError(
        `event ${index} is about ${bytes} bytes as a broker message (data and headers), more than the broker accepts (${limit} bytes); nothing was accepted`,
      );
  }
}
