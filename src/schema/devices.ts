/** Devices: monitor ingest, live telemetry, buffer windows, recordings and replay (docs/devices.md). */
import type { DeviceMessage } from '../domain/devices/device-message.ts';
import type { Device } from '../domain/devices/device-store.ts';
import { RECORDING_STATUS, type Recording } from '../domain/devices/recording-store.ts';
import type { ReplayEvent } from '../domain/devices/replay.ts';
import {
  resolveActiveRecording,
  resolveAppendRecordingMessages,
  resolveBuffered,
  resolveDeleteRecording,
  resolveDevice,
  resolveDeviceMessages,
  resolveDevices,
  resolveImportRecording,
  resolveIngest,
  resolveRecording,
  resolveRecordingMessages,
  resolveRecordingStats,
  resolveRecordings,
  resolveReplay,
  resolveSetBufferWindow,
  resolveStartRecording,
  resolveStopRecording,
} from '../resolvers/devices.ts';
import { builder } from './builder.ts';
import { connectionOf } from './connection.ts';
import { eventPagesExtensions, pagesOrEvents } from './event-pages.ts';
import { NodeRef, registerNode } from './node.ts';
import { PublishResultRef } from './publish-result.ts';
import { fieldsSelectedBelow } from './selected-fields.ts';

export const DeviceMessageRef = builder.objectRef<DeviceMessage>('DeviceMessage').implement({
  fields: (t) => ({
    deviceId: t.exposeID('deviceId'),
    seq: t.exposeFloat('seq', { description: 'Per-device sequence number, starting at 1.' }),
    timestamp: t.field({ type: 'DateTime', resolve: (message) => message.timestamp }),
    eventId: t.exposeString('eventId', {
      nullable: true,
      description: "The monitor event's own id, type (call, signal, state) and symbol, when it had them.",
    }),
    type: t.exposeString('type', { nullable: true }),
    symbol: t.exposeString('symbol', { nullable: true }),
    data: t.field({ type: 'JSON', resolve: (message) => message.data }),
    headers: t.field({
      type: 'JSONObject',
      description:
        'The headers the message was published with (X-Monitor-Device, -Id, -Type, -Timestamp with nanoseconds, -Symbol, -Seq): what a JSONL export writes.',
      resolve: (message) => ({ ...message.headers }),
    }),
  }),
});

const RecordingStatusRef = builder.enumType('RecordingStatus', { values: Object.values(RECORDING_STATUS) });

const DeviceMessageConnectionRef = connectionOf('DeviceMessage', DeviceMessageRef);

// Three fields read the same aggregate; compute it once per recording object (one request).
const statsOf = new WeakMap<Recording, ReturnType<typeof resolveRecordingStats>>();

export const RecordingRef = builder.objectRef<Recording>('Recording').implement({
  interfaces: [NodeRef],
  fields: (t) => {
    const stats = (recording: Recording, context: Parameters<typeof resolveRecordingStats>[0]) => {
      let cached = statsOf.get(recording);
      if (!cached) {
        cached = resolveRecordingStats(context, recording);
        statsOf.set(recording, cached);
      }
      return cached;
    };
    return {
      id: t.exposeID('id'),
      deviceId: t.exposeID('deviceId'),
      status: t.field({ type: RecordingStatusRef, resolve: (recording) => recording.status }),
      startedAt: t.field({ type: 'DateTime', resolve: (recording) => recording.startedAt }),
      stoppedAt: t.field({ type: 'DateTime', nullable: true, resolve: (recording) => recording.stoppedAt }),
      retention: t.field({
        type: 'Duration',
        description: 'How long the recording is kept after it stops.',
        resolve: (recording) => recording.retentionMs,
      }),
      expiresAt: t.field({
        type: 'DateTime',
        nullable: true,
        description: 'When the recording is deleted; null while it records.',
        resolve: (recording) => recording.expiresAt,
      }),
      note: t.exposeString('note', {
        nullable: true,
        description: 'Free text given when recording started or was imported.',
      }),
      messageCount: t.float({
        resolve: async (recording, _args, context) => (await stats(recording, context)).messageCount,
      }),
      firstMessageAt: t.field({
        type: 'DateTime',
        nullable: true,
        description: 'Time of the first and last message held.',
        resolve: async (recording, _args, context) => (await stats(recording, context)).firstMessageAt,
      }),
      lastMessageAt: t.field({
        type: 'DateTime',
        nullable: true,
        resolve: async (recording, _args, context) => (await stats(recording, context)).lastMessageAt,
      }),
      messages: t.field({
        type: DeviceMessageConnectionRef,
        description: 'The recorded messages in order (by sequence).',
        args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
        resolve: (recording, { first, after }, context) =>
          resolveRecordingMessages(context, recording, first, after),
      }),
    };
  },
});

const RecordingConnectionRef = connectionOf('Recording', RecordingRef);

export const DeviceRef = builder.objectRef<Device>('Device').implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    firstSeenAt: t.field({ type: 'DateTime', resolve: (device) => device.firstSeenAt }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (device) => device.lastSeenAt }),
    messageCount: t.exposeFloat('messageCount'),
    bufferWindow: t.field({ type: 'Duration', nullable: true, resolve: (device) => device.bufferWindowMs }),
    buffered: t.int({
      description: 'Messages held in the buffer window now.',
      resolve: (device, _args, context) => resolveBuffered(context, device),
    }),
    activeRecording: t.field({
      type: RecordingRef,
      nullable: true,
      description: 'The recording running now, if any (one per device).',
      resolve: (device, _args, context) => resolveActiveRecording(context, device),
    }),
    recordings: t.field({
      type: RecordingConnectionRef,
      description: "The device's recordings, newest first.",
      args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
      resolve: (device, { first, after }, context) => resolveRecordings(context, device.id, first, after, 20),
    }),
  }),
});

const DeviceConnectionRef = connectionOf('Device', DeviceRef);

registerNode('Device', (id, context) => resolveDevice(context, id));
registerNode('Recording', (id, context) => resolveRecording(context, id));

const ReplayEventRef = builder.objectRef<ReplayEvent>('ReplayEvent').implement({
  fields: (t) => ({
    recordingId: t.exposeID('recordingId'),
    message: t.field({ type: DeviceMessageRef, resolve: (event) => event.message }),
    progress: t.exposeFloat('progress', {
      description: '0..1: how far through the recording this message lies.',
    }),
  }),
});

const RecordedMessageInputRef = builder.inputType('RecordedMessageInput', {
  description: 'One message line of a JSONL export: its X-Monitor-* headers and its data.',
  fields: (t) => ({
    headers: t.field({ type: 'JSONObject', required: true }),
    data: t.field({ type: 'JSON', required: true }),
  }),
});

const ImportRecordingInputRef = builder.inputType('ImportRecordingInput', {
  description: 'The metadata line of a JSONL export.',
  fields: (t) => ({
    id: t.id({ description: 'The recording id (metadata.session_id); generated when absent.' }),
    deviceId: t.id({ required: true }),
    retention: t.field({ type: 'Duration', description: 'Counted from the import. Default from config.' }),
    note: t.string(),
    startedAt: t.field({ type: 'DateTime', description: "Default: the first message's time." }),
    stoppedAt: t.field({ type: 'DateTime', description: "Default: the last message's time." }),
  }),
});

builder.queryFields((t) => ({
  devices: t.field({
    type: DeviceConnectionRef,
    args: { first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
    resolve: (_root, { first, after }, context) => resolveDevices(context, first, after),
  }),
  device: t.field({
    type: DeviceRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => resolveDevice(context, id),
  }),
  recording: t.field({
    type: RecordingRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => resolveRecording(context, id),
  }),
  recordings: t.field({
    type: RecordingConnectionRef,
    description: 'Recordings, newest first; deviceId narrows to one device.',
    args: { deviceId: t.arg.id(), first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
    resolve: (_root, { deviceId, first, after }, context) =>
      resolveRecordings(context, deviceId, first, after),
  }),
}));

builder.mutationFields((t) => ({
  ingest: t.field({
    type: PublishResultRef,
    description:
      'The GraphQL twin of the HTTP monitor (POST /monitor/{deviceId}): each message is a monitor event {id, type, timestamp, symbol, data}. All are checked first; BAD_USER_INPUT names a bad one by index.',
    args: {
      deviceId: t.arg.id({ required: true }),
      messages: t.arg({ type: ['JSON'], required: true }),
    },
    resolve: (_root, { deviceId, messages }, context) => resolveIngest(context, deviceId, messages),
  }),
  setBufferWindow: t.field({
    type: DeviceRef,
    description:
      "Keeps the device's last `window` of messages so a recording can start in the past; null turns it off. Omitted: the configured default.",
    args: { deviceId: t.arg.id({ required: true }), window: t.arg({ type: 'Duration' }) },
    resolve: (_root, { deviceId, window }, context) => resolveSetBufferWindow(context, deviceId, window),
  }),
  startRecording: t.field({
    type: RecordingRef,
    description:
      'Starts recording a device. includeBuffer copies what the buffer window holds first.\nretention: how long the recording is kept after it stops (default from config).',
    args: {
      deviceId: t.arg.id({ required: true }),
      retention: t.arg({ type: 'Duration' }),
      includeBuffer: t.arg.boolean({ defaultValue: true }),
      preRoll: t.arg({
        type: 'Duration',
        description: 'Copy only this much of the buffer window (at most the window). Default: all of it.',
      }),
      id: t.arg.id({ description: 'The recording id (the legacy session_id); generated when absent.' }),
      note: t.arg.string(),
    },
    resolve: (_root, args, context) =>
      resolveStartRecording(context, {
        deviceId: args.deviceId,
        retentionMs: args.retention,
        includeBuffer: args.includeBuffer,
        preRollMs: args.preRoll,
        id: args.id,
        note: args.note,
      }),
  }),
  stopRecording: t.field({
    type: RecordingRef,
    description: 'Stops a recording and starts its retention; stopping a stopped one returns it unchanged.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => resolveStopRecording(context, id),
  }),
  deleteRecording: t.boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => resolveDeleteRecording(context, id),
  }),
  importRecording: t.field({
    type: RecordingRef,
    description:
      'Creates a stopped recording from a JSONL export (the metadata line as input, message lines as messages). Send a large export in chunks: the rest with appendRecordingMessages.',
    args: {
      input: t.arg({ type: ImportRecordingInputRef, required: true }),
      messages: t.arg({ type: [RecordedMessageInputRef], required: true }),
    },
    resolve: (_root, { input, messages }, context) =>
      resolveImportRecording(
        context,
        {
          id: input.id,
          deviceId: input.deviceId,
          retentionMs: input.retention,
          note: input.note,
          startedAt: input.startedAt,
          stoppedAt: input.stoppedAt,
        },
        messages,
      ),
  }),
  appendRecordingMessages: t.field({
    type: RecordingRef,
    description: 'Appends the next chunk of exported messages to a recording created by importRecording.',
    args: {
      recordingId: t.arg.id({ required: true }),
      messages: t.arg({ type: [RecordedMessageInputRef], required: true }),
    },
    resolve: (_root, { recordingId, messages }, context) =>
      resolveAppendRecordingMessages(context, recordingId, messages),
  }),
}));

builder.subscriptionFields((t) => ({
  deviceMessages: t.field({
    type: DeviceMessageRef,
    description: 'Live telemetry of a device.',
    args: { deviceId: t.arg.id({ required: true }) },
    subscribe: (_root, { deviceId }, context) => resolveDeviceMessages(context, deviceId),
    resolve: (message: DeviceMessage) => message,
  }),
  replay: t.field({
    type: ReplayEventRef,
    description:
      'Replays a recording in original order. from: skip to this instant; speed: 2 = twice as fast,\n0 = as fast as the client reads. Completes at the end unless loop is true.',
    args: {
      recordingId: t.arg.id({ required: true }),
      from: t.arg({ type: 'DateTime' }),
      speed: t.arg.float({ defaultValue: 1 }),
      loop: t.arg.boolean({ defaultValue: false }),
    },
    extensions: eventPagesExtensions,
    subscribe: (_root, args, context, info) =>
      pagesOrEvents(
        info,
        context,
        resolveReplay(context, {
          recordingId: args.recordingId,
          from: args.from,
          speed: args.speed,
          loop: args.loop,
          // Only the stored columns of the message fields selected are read.
          messageFields: fieldsSelectedBelow(info, 'message'),
        }),
      ),
    // A page when the execution maps a page at once (event-pages.ts): the field is a list there.
    resolve: (event: ReplayEvent) => event,
  }),
}));
