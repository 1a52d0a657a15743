import type { EnvReader } from './env-reader.ts';
import { tenantNameProblem } from './subject-syntax.ts';

/** Device telemetry: HTTP monitor ingest, buffer windows, recordings (docs/devices.md). */
export interface DevicesConfig {
  /** Accept unauthenticated monitor ingest (as ApiGear Streams did) into `publicTenant`. @default false (MONITOR_PUBLIC) */
  readonly monitorPublic: boolean;
  /** The tenant that unauthenticated devices belong to when MONITOR_PUBLIC is on; unset = no tenant. (MONITOR_TENANT) */
  readonly publicTenant: string | null;
  /** Largest body of POST /monitor/{device}. @default MAX_PAYLOAD_BYTES (MONITOR_MAX_BODY_BYTES) */
  readonly maxBodyBytes: number;
  /** The buffer window a device gets when first seen, and setBufferWindow without a window; "off" = none. @default 5m (BUFFER_WINDOW_DEFAULT) */
  readonly bufferWindowDefaultMs: number | null;
  /** The largest buffer window setBufferWindow accepts. @default 1h (BUFFER_WINDOW_MAX) */
  readonly bufferWindowMaxMs: number;
  /** How long a stopped recording is kept when startRecording names no retention. @default 24h (RECORDING_RETENTION_DEFAULT) */
  readonly retentionDefaultMs: number;
  /** How often expired recordings are deleted. @default 1m (RECORDING_SWEEP_INTERVAL) */
  readonly sweepIntervalMs: number;
  /** Answer the legacy record RPC on `streams.record.rpc`. @default true (RECORD_RPC) */
  readonly recordRpc: boolean;
  /**
   * Failures of one outbox message while the broker is connected (one per relay round) after
   * which it is moved to the dead letters, for failures the broker does not tell as permanent.
   * @default 300 (MONITOR_OUTBOX_MAX_ATTEMPTS)
   */
  readonly outboxMaxAttempts: number;
}

/** Reads the devices section; `maxPayloadBytes` is MAX_PAYLOAD_BYTES, the default body limit. */
export function readDevicesConfig(read: EnvReader, maxPayloadBytes: number): DevicesConfig {
  const bufferWindowMaxMs = read.duration('BUFFER_WINDOW_MAX', 3_600_000);
  const defaultWindow = read.raw('BUFFER_WINDOW_DEFAULT');
  const bufferWindowDefaultMs =
    defaultWindow !== undefined && /^(off|none|0)$/i.test(defaultWindow)
      ? null
      : read.duration('BUFFER_WINDOW_DEFAULT', 300_000);
  if (bufferWindowDefaultMs !== null && bufferWindowDefaultMs > bufferWindowMaxMs) {
    read.report(
      'BUFFER_WINDOW_DEFAULT',
      defaultWindow ?? '5m',
      'a duration no longer than BUFFER_WINDOW_MAX',
    );
  }
  const sweepIntervalMs = read.duration('RECORDING_SWEEP_INTERVAL', 60_000);
  if (sweepIntervalMs < 100) {
    read.report('RECORDING_SWEEP_INTERVAL', read.raw('RECORDING_SWEEP_INTERVAL') ?? '', 'at least 100ms');
  }
  const monitorPublic = read.boolean('MONITOR_PUBLIC', false);
  const publicTenant = read.optionalString('MONITOR_TENANT') ?? null;
  if (publicTenant !== null && tenantNameProblem(publicTenant) !== undefined) {
    read.report(
      'MONITOR_TENANT',
      publicTenant,
      'a tenant name: one subject token, no ".", "*", ">" or white space',
    );
  }
  return {
    monitorPublic,
    publicTenant,
    maxBodyBytes: read.raw('MONITOR_MAX_BODY_BYTES')
      ? read.bytes('MONITOR_MAX_BODY_BYTES', maxPayloadBytes)
      : maxPayloadBytes,
    bufferWindowDefaultMs,
    bufferWindowMaxMs,
    retentionDefaultMs: read.duration('RECORDING_RETENTION_DEFAULT', 86_400_000),
    sweepIntervalMs,
    recordRpc: read.boolean('RECORD_RPC', true),
    outboxMaxAttempts: read.int('MONITOR_OUTBOX_MAX_ATTEMPTS', 300, { min: 1 }),
  };
}
