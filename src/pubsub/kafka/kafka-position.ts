import { isRecord } from '../../type-guards.ts';
import { InvalidPositionError } from '../errors.ts';

/**
 * A position in Kafka: for each partition the subscription reads, the next offset to read, as
 * of one message, plus that message's time for partitions the cursor does not name. Resuming
 * from it starts every partition exactly after what had been delivered: no gap, no duplicate,
 * across partitions too. A publish receipt names only its own partition.
 */
export interface KafkaCursor {
  /** Epoch ms of the message. */
  readonly t: number;
  /** topic → partition → next offset. */
  readonly o: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

const PREFIX = 'k1.';
const EXPECTED = 'a Kafka position handed out by this broker';

/** The opaque position string of a cursor. */
export function encodeKafkaPosition(cursor: KafkaCursor): string {
  return PREFIX + Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** Reads a position string; InvalidPositionError for anything this broker did not make. */
export function decodeKafkaPosition(position: string): KafkaCursor {
  if (!position.startsWith(PREFIX) || position.length > 64 * 1024)
    throw new InvalidPositionError(position, EXPECTED);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(position.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw new InvalidPositionError(position, EXPECTED);
  }
  if (!isRecord(value) || typeof value.t !== 'number' || !isRecord(value.o)) {
    throw new InvalidPositionError(position, EXPECTED);
  }
  const offsets: Record<string, Record<string, number>> = {};
  for (const [topic, partitions] of Object.entries(value.o)) {
    if (!isRecord(partitions)) throw new InvalidPositionError(position, EXPECTED);
    offsets[topic] = {};
    for (const [partition, offset] of Object.entries(partitions)) {
      if (!/^\d+$/.test(partition) || !Number.isSafeInteger(offset) || (offset as number) < 0) {
        throw new InvalidPositionError(position, EXPECTED);
      }
      (offsets[topic] as Record<string, number>)[partition] = offset as number;
    }
  }
  return { t: value.t, o: offsets };
}
