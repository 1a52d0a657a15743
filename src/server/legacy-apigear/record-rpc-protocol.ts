/**
 * The ApiGear recording RPC on `streams.record.rpc` (legacy.md C): its request, its reply and
 * `validateRecordRequest(message: unknown)`. A session_id is a recording id.
 */

import { BadUserInputError } from '../../errors.ts';
import { parseRetention } from '../../formats/recording-jsonl.ts';

export const RECORD_ACTIONS = { START: 'start', STOP: 'stop' } as const;
export type RecordAction = (typeof RECORD_ACTIONS)[keyof typeof RECORD_ACTIONS];

/** A checked request. Durations are in milliseconds. */
export interface RecordRequest {
  readonly action: RecordAction;
  readonly deviceId: string | undefined;
  readonly sessionId: string | undefined;
  readonly retentionMs: number | undefined;
  readonly preRollMs: number;
  readonly note: string | undefined;
}

/** The `state` of a reply. */
export interface RecordState {
  readonly session_id: string;
  readonly device_id: string;
  readonly status: 'running' | 'stopped' | 'error';
  readonly message_count: number;
  readonly started_at: string;
  readonly last_message_at: string | null;
}

export type RecordReply =
  | { readonly ok: true; readonly message: string; readonly session_id: string; readonly state: RecordState }
  | { readonly ok: false; readonly message: string };

function optionalText(request: Record<string, unknown>, field: string): string | undefined {
  const value = request[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new BadUserInputError(`${field} must be a string`);
  return value;
}

function optionalDuration(request: Record<string, unknown>, field: string): number | undefined {
  const text = optionalText(request, field);
  if (text === undefined) return undefined;
  const ms = parseRetention(text);
  if (ms === undefined)
    throw new BadUserInputError(`${field} "${text}" is not a duration such as "24h" or "1m"`);
  return ms;
}

/** Parses and checks a request payload; throws BadUserInputError with the reply's message. */
export function validateRecordRequest(payload: Uint8Array): RecordRequest {
  let request: unknown;
  try {
    request = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw new BadUserInputError('invalid request: not JSON');
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new BadUserInputError('invalid request: expected a JSON object');
  }
  const fields = request as Record<string, unknown>;
  const action = optionalText(fields, 'action');
  if (action !== RECORD_ACTIONS.START && action !== RECORD_ACTIONS.STOP) {
    throw new BadUserInputError(
      action === undefined
        ? 'missing action: "start" or "stop"'
        : `unknown action "${action}": "start" or "stop"`,
    );
  }
  const deviceId = optionalText(fields, 'device_id');
  const sessionId = optionalText(fields, 'session_id');
  if (action === RECORD_ACTIONS.START && deviceId === undefined)
    throw new BadUserInputError('missing device_id');
  if (action === RECORD_ACTIONS.STOP && deviceId === undefined && sessionId === undefined) {
    throw new BadUserInputError('missing device_id (or session_id)');
  }
  return {
    action,
    deviceId,
    sessionId,
    retentionMs: optionalDuration(fields, 'retention'),
    preRollMs: optionalDuration(fields, 'pre_roll') ?? 0,
    note: optionalText(fields, 'note'),
  };
}

/** The reply as bytes. */
export function encodeRecordReply(reply: RecordReply): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(reply));
}
