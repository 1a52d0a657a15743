/** Device resolvers: arguments → a call on the device service (AppServices.devices). */
import type { Device } from '../domain/devices/device-store.ts';
import type { IngestResult } from '../domain/devices/ingest.ts';
import type { ImportRecordingInput } from '../domain/devices/recording-import.ts';
import type { Recording } from '../domain/devices/recording-store.ts';
import type { StartRecordingInput } from '../domain/devices/recordings.ts';
import type { ReplayOptions } from '../domain/devices/replay.ts';
import type { GraphQLContext } from '../domain/resolver-context.ts';

const service = (context: GraphQLContext) => context.services.devices;
const scope = (context: GraphQLContext) => service(context).scopeOf(context.viewer);

/** Mutation.ingest. */
export function resolveIngest(
  context: GraphQLContext,
  deviceId: string,
  messages: readonly unknown[],
): Promise<IngestResult> {
  return service(context).ingest(scope(context), deviceId, messages);
}

export const resolveDevice = (context: GraphQLContext, id: string) =>
  service(context).device(scope(context), id);

export const resolveDevices = (context: GraphQLContext, first?: number | null, after?: string | null) =>
  service(context).devices(scope(context), first, after);

export const resolveBuffered = (context: GraphQLContext, device: Device) => service(context).buffered(device);

export const resolveSetBufferWindow = (
  context: GraphQLContext,
  deviceId: string,
  windowMs: number | null | undefined,
) => service(context).setBufferWindow(scope(context), deviceId, windowMs);

export const resolveDeviceMessages = (context: GraphQLContext, deviceId: string) =>
  service(context).liveMessages(scope(context), deviceId);

export const resolveStartRecording = (context: GraphQLContext, input: StartRecordingInput) =>
  service(context).startRecording(scope(context), input);

export const resolveStopRecording = (context: GraphQLContext, id: string) =>
  service(context).stopRecording(scope(context), id);

export const resolveDeleteRecording = (context: GraphQLContext, id: string) =>
  service(context).deleteRecording(scope(context), id);

export const resolveRecording = (context: GraphQLContext, id: string) =>
  service(context).recording(scope(context), id);

export const resolveRecordings = (
  context: GraphQLContext,
  deviceId: string | null | undefined,
  first: number | null | undefined,
  after: string | null | undefined,
  fallbackFirst?: number,
) => service(context).recordings(scope(context), deviceId, first, after, fallbackFirst);

export const resolveRecordingStats = (context: GraphQLContext, recording: Recording) =>
  service(context).recordingStats(recording);

export const resolveRecordingMessages = (
  context: GraphQLContext,
  recording: Recording,
  first?: number | null,
  after?: string | null,
) => service(context).recordingMessages(recording, first, after);

export const resolveImportRecording = (
  context: GraphQLContext,
  input: ImportRecordingInput,
  messages: readonly unknown[],
) => service(context).importRecording(scope(context), input, messages);

export const resolveAppendRecordingMessages = (
  context: GraphQLContext,
  recordingId: string,
  messages: readonly unknown[],
) => service(context).appendImportedMessages(scope(context), recordingId, messages);

export const resolveReplay = (context: GraphQLContext, options: ReplayOptions) =>
  service(context).replay(scope(context), options);

export const resolveActiveRecording = (context: GraphQLContext, device: Device) =>
  service(context).activeRecording(device);
