/**
 * The record RPC responder (legacy.md C) for existing ApiGear tooling: a translator onto the
 * startRecording / stopRecording mutations (DESIGN.md decision 1). Instances answer as one queue
 * group, so a request is answered once however many run.
 *
 * The RPC carries no token: whoever may publish on the broker network is trusted, as with
 * ApiGear Streams. It acts as the MONITOR_TENANT with the roles the two mutations need.
 */
import { type ExecutionResult, parse } from 'graphql';
import type { Config } from '../../config/config.ts';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import type { RequestEndpoint } from '../../domain/request-endpoint.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { BadUserInputError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { newCorrelationId } from '../../log.ts';
import { executeOperation } from '../execute-operation.ts';
import type { OperationRunner } from '../operation-runner.ts';
import {
  encodeRecordReply,
  RECORD_ACTIONS,
  type RecordReply,
  type RecordRequest,
  type RecordState,
  validateRecordRequest,
} from './record-rpc-protocol.ts';

const RECORDING_FIELDS = 'id deviceId status startedAt messageCount lastMessageAt';

const START = parse(`
  mutation RecordRpcStart($deviceId: ID!, $id: ID, $retention: Duration, $preRoll: Duration, $includeBuffer: Boolean, $note: String) {
    startRecording(deviceId: $deviceId, id: $id, retention: $retention, preRoll: $preRoll, includeBuffer: $includeBuffer, note: $note) { ${RECORDING_FIELDS} }
  }
`);
const STOP = parse(`
  mutation RecordRpcStop($id: ID!) { stopRecording(id: $id) { ${RECORDING_FIELDS} } }
`);
const ACTIVE = parse(`
  query RecordRpcActive($deviceId: ID!) { device(id: $deviceId) { activeRecording { id } } }
`);

interface RecordingFields {
  readonly id: string;
  readonly deviceId: string;
  readonly status: 'RECORDING' | 'STOPPED';
  readonly startedAt: string;
  readonly messageCount: number;
  readonly lastMessageAt: string | null;
}

export interface RecordRpcOptions {
  /** The execution seam the adapter's operations run through. */
  readonly runner: OperationRunner;
  /** The record RPC's subject (legacy.md C), bound by the composition root. */
  readonly endpoint: RequestEndpoint;
  readonly auth: AuthService;
  readonly config: Config['devices'];
  readonly log: Logger;
}

/** The responder as a service: `start` registers it on its endpoint, `stop` unregisters it. */
export function createRecordRpc(options: RecordRpcOptions): {
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  const viewer: Viewer = {
    userId: 'record-rpc',
    tenantId: options.config.publicTenant,
    roles: [
      ...new Set([...options.auth.rolesFor('startRecording'), ...options.auth.rolesFor('stopRecording')]),
    ],
  };
  let responder: { stop(): Promise<void> } | undefined;
  return {
    async start() {
      responder = await options.endpoint.respond(async (payload) =>
        encodeRecordReply(await answer(options, viewer, payload)),
      );
    },
    stop: async () => {
      await responder?.stop();
    },
  };
}

async function answer(options: RecordRpcOptions, viewer: Viewer, payload: Uint8Array): Promise<RecordReply> {
  let request: RecordRequest;
  try {
    request = validateRecordRequest(payload);
  } catch (error) {
    if (error instanceof BadUserInputError) return { ok: false, message: error.message };
    throw error;
  }
  const run = (document: ReturnType<typeof parse>, variables: Record<string, unknown>) =>
    executeOperation(options.runner, { viewer, correlationId: newCorrelationId() }, document, variables);
  try {
    if (request.action === RECORD_ACTIONS.START) {
      const result = await run(START, {
        deviceId: request.deviceId,
        id: request.sessionId,
        retention: request.retentionMs === undefined ? undefined : `${request.retentionMs}ms`,
        preRoll: request.preRollMs > 0 ? `${request.preRollMs}ms` : undefined,
        includeBuffer: request.preRollMs > 0,
        note: request.note,
      });
      return reply(result, 'startRecording', 'recording started');
    }
    let id = request.sessionId;
    if (id === undefined) {
      const active = await run(ACTIVE, { deviceId: request.deviceId });
      if (active.errors?.[0]) return { ok: false, message: active.errors[0].message };
      const device = (active.data as { device: { activeRecording: { id: string } | null } | null }).device;
      id = device?.activeRecording?.id;
      if (id === undefined) return { ok: false, message: `device "${request.deviceId}" is not recording` };
    }
    return reply(await run(STOP, { id }), 'stopRecording', 'recording stopped');
  } catch (error) {
    options.log.error({ err: error }, 'record RPC failed');
    return { ok: false, message: 'internal error' };
  }
}

function reply(result: ExecutionResult, field: string, message: string): RecordReply {
  const error = result.errors?.[0];
  if (error) return { ok: false, message: error.message };
  const recording = (result.data as Record<string, RecordingFields>)[field] as RecordingFields;
  return { ok: true, message, session_id: recording.id, state: stateOf(recording) };
}

function stateOf(recording: RecordingFields): RecordState {
  return {
    session_id: recording.id,
    device_id: recording.deviceId,
    status: recording.status === 'RECORDING' ? 'running' : 'stopped',
    message_count: recording.messageCount,
    started_at: recording.startedAt,
    last_message_at: recording.lastMessageAt,
  };
}
