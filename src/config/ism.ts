import type { EnvReader } from './env-reader.ts';
import { isConcreteSubject } from './subject-syntax.ts';

/** ISM: where the sync store consumes `query_state_direct` (contract/legacy.md B). */
export const DEFAULT_SYNC_STORE_SUBJECT = 'processor.state.sync';

/** The ISM network: states, entries, the sync store, the state router (docs/ism.md). */
export interface IsmConfig {
  /** YAML routing table loaded into the routes table at start-up; unset = none. (ROUTING_FILE) */
  readonly routingFile: string | undefined;
  /** How long a state or the routing table read from the database is reused. @default 10s (STATE_CACHE_TTL) */
  readonly stateCacheTtlMs: number;
  /** Where the sync store consumes `query_state_direct`. @default "processor.state.sync" (SYNC_STORE_SUBJECT) */
  readonly syncStoreSubject: string;
  /**
   * Bytes of received messages that may wait while the database cannot take them (a restart);
   * past it the sync store drops new ones, counted. @default 16 MiB (SYNC_STORE_BUFFER)
   */
  readonly syncStoreBufferBytes: number;
  /** Most entries one publish may carry. @default 10000 (STATE_MAX_ENTRIES) */
  readonly maxEntries: number;
  /** Largest single entry, as JSON. @default 64 KiB (STATE_MAX_ENTRY_BYTES) */
  readonly maxEntryBytes: number;
  /**
   * Largest message a publish may put on the broker (all entries in one `query_state_entry`);
   * NATS refuses messages over its max_payload, 1 MiB by default. @default 1 MiB (STATE_MAX_MESSAGE_BYTES)
   */
  readonly maxMessageBytes: number;
  /** How often the outbox relay retries messages that could not be published. @default 1s (OUTBOX_RETRY_INTERVAL) */
  readonly outboxRetryIntervalMs: number;
  /** Ping interval of the legacy /ws/stream sockets; a client that misses a pong is closed. @default 30s (STREAM_WS_PING_INTERVAL) */
  readonly streamPingIntervalMs: number;
}

export function readIsmConfig(read: EnvReader): IsmConfig {
  return {
    routingFile: read.optionalString('ROUTING_FILE'),
    stateCacheTtlMs: read.duration('STATE_CACHE_TTL', 10_000),
    syncStoreSubject: read.string('SYNC_STORE_SUBJECT', DEFAULT_SYNC_STORE_SUBJECT),
    syncStoreBufferBytes: read.bytes('SYNC_STORE_BUFFER', 16 * 1024 * 1024),
    maxEntries: read.int('STATE_MAX_ENTRIES', 10_000, { min: 1 }),
    maxEntryBytes: read.bytes('STATE_MAX_ENTRY_BYTES', 64 * 1024),
    maxMessageBytes: read.bytes('STATE_MAX_MESSAGE_BYTES', 1024 * 1024),
    outboxRetryIntervalMs: read.duration('OUTBOX_RETRY_INTERVAL', 1_000),
    streamPingIntervalMs: read.duration('STREAM_WS_PING_INTERVAL', 30_000),
  };
}

/** Checks the ISM rules that need the whole section; runs after every other section is read. */
export function checkIsmConfig(read: EnvReader, ism: IsmConfig): void {
  if (!isConcreteSubject(ism.syncStoreSubject)) {
    read.report('SYNC_STORE_SUBJECT', ism.syncStoreSubject, 'a broker subject such as processor.state.sync');
  }
}
