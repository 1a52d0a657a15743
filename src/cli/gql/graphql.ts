/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type HealthStatus =
  | 'DEGRADED'
  | 'DOWN'
  | 'OK';

/** The metadata line of a JSONL export. */
export type ImportRecordingInput = {
  deviceId: string | number;
  /** The recording id (metadata.session_id); generated when absent. */
  id?: string | number | null | undefined;
  note?: string | null | undefined;
  /** Counted from the import. Default from config. */
  retention?: string | null | undefined;
  /** Default: the first message's time. */
  startedAt?: string | null | undefined;
  /** Default: the last message's time. */
  stoppedAt?: string | null | undefined;
};

/** One message line of a JSONL export: its X-Monitor-* headers and its data. */
export type RecordedMessageInput = {
  data: unknown;
  headers: Record<string, unknown>;
};

export type RecordingStatus =
  | 'RECORDING'
  | 'STOPPED';

export type DeviceTailSubscriptionVariables = Exact<{
  deviceId: string | number;
}>;


export type DeviceTailSubscription = { deviceMessages: { deviceId: string, seq: number, timestamp: string, eventId: string | null, type: string | null, symbol: string | null, data: unknown } };

export type DeviceMessageFieldsFragment = { deviceId: string, seq: number, timestamp: string, eventId: string | null, type: string | null, symbol: string | null, data: unknown };

export type RecordingFieldsFragment = { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null };

export type StartRecordingMutationVariables = Exact<{
  deviceId: string | number;
  id?: string | number | null | undefined;
  retention?: string | null | undefined;
  includeBuffer?: boolean | null | undefined;
  preRoll?: string | null | undefined;
  note?: string | null | undefined;
}>;


export type StartRecordingMutation = { startRecording: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } };

export type StopRecordingMutationVariables = Exact<{
  id: string | number;
}>;


export type StopRecordingMutation = { stopRecording: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } };

export type DeleteRecordingMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteRecordingMutation = { deleteRecording: boolean };

export type ShowRecordingQueryVariables = Exact<{
  id: string | number;
}>;


export type ShowRecordingQuery = { recording: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } | null };

export type ListRecordingsQueryVariables = Exact<{
  deviceId?: string | number | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ListRecordingsQuery = { recordings: { edges: Array<{ node: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type ExportRecordingQueryVariables = Exact<{
  id: string | number;
}>;


export type ExportRecordingQuery = { recording: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } | null };

export type ExportRecordingMessagesQueryVariables = Exact<{
  id: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ExportRecordingMessagesQuery = { recording: { messages: { edges: Array<{ node: { deviceId: string, seq: number, timestamp: string, eventId: string | null, type: string | null, symbol: string | null, data: unknown, headers: Record<string, unknown> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } } | null };

export type ImportRecordingMutationVariables = Exact<{
  input: ImportRecordingInput;
  messages: Array<RecordedMessageInput> | RecordedMessageInput;
}>;


export type ImportRecordingMutation = { importRecording: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } };

export type DeleteImportedRecordingMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteImportedRecordingMutation = { deleteRecording: boolean };

export type AppendRecordingMessagesMutationVariables = Exact<{
  recordingId: string | number;
  messages: Array<RecordedMessageInput> | RecordedMessageInput;
}>;


export type AppendRecordingMessagesMutation = { appendRecordingMessages: { id: string, deviceId: string, status: RecordingStatus, startedAt: string, stoppedAt: string | null, retention: string, expiresAt: string | null, messageCount: number, firstMessageAt: string | null, lastMessageAt: string | null, note: string | null } };

export type RecordingReplaySubscriptionVariables = Exact<{
  recordingId: string | number;
  from?: string | null | undefined;
  speed?: number | null | undefined;
  loop?: boolean | null | undefined;
}>;


export type RecordingReplaySubscription = { replay: { recordingId: string, progress: number, message: { deviceId: string, seq: number, timestamp: string, eventId: string | null, type: string | null, symbol: string | null, data: unknown } } };

export type ServerStatusQueryVariables = Exact<{ [key: string]: never; }>;


export type ServerStatusQuery = { health: { status: HealthStatus, version: string, uptimeSeconds: number, dependencies: Array<{ name: string, status: HealthStatus, latencyMs: number | null, error: string | null }> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const DeviceMessageFieldsFragmentDoc = new TypedDocumentString(`
    fragment DeviceMessageFields on DeviceMessage {
  deviceId
  seq
  timestamp
  eventId
  type
  symbol
  data
}
    `, {"fragmentName":"DeviceMessageFields"}) as unknown as TypedDocumentString<DeviceMessageFieldsFragment, unknown>;
export const RecordingFieldsFragmentDoc = new TypedDocumentString(`
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}
    `, {"fragmentName":"RecordingFields"}) as unknown as TypedDocumentString<RecordingFieldsFragment, unknown>;
export const DeviceTailDocument = new TypedDocumentString(`
    subscription DeviceTail($deviceId: ID!) {
  deviceMessages(deviceId: $deviceId) {
    ...DeviceMessageFields
  }
}
    fragment DeviceMessageFields on DeviceMessage {
  deviceId
  seq
  timestamp
  eventId
  type
  symbol
  data
}`) as unknown as TypedDocumentString<DeviceTailSubscription, DeviceTailSubscriptionVariables>;
export const StartRecordingDocument = new TypedDocumentString(`
    mutation StartRecording($deviceId: ID!, $id: ID, $retention: Duration, $includeBuffer: Boolean, $preRoll: Duration, $note: String) {
  startRecording(
    deviceId: $deviceId
    id: $id
    retention: $retention
    includeBuffer: $includeBuffer
    preRoll: $preRoll
    note: $note
  ) {
    ...RecordingFields
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<StartRecordingMutation, StartRecordingMutationVariables>;
export const StopRecordingDocument = new TypedDocumentString(`
    mutation StopRecording($id: ID!) {
  stopRecording(id: $id) {
    ...RecordingFields
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<StopRecordingMutation, StopRecordingMutationVariables>;
export const DeleteRecordingDocument = new TypedDocumentString(`
    mutation DeleteRecording($id: ID!) {
  deleteRecording(id: $id)
}
    `) as unknown as TypedDocumentString<DeleteRecordingMutation, DeleteRecordingMutationVariables>;
export const ShowRecordingDocument = new TypedDocumentString(`
    query ShowRecording($id: ID!) {
  recording(id: $id) {
    ...RecordingFields
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<ShowRecordingQuery, ShowRecordingQueryVariables>;
export const ListRecordingsDocument = new TypedDocumentString(`
    query ListRecordings($deviceId: ID, $first: Int, $after: String) {
  recordings(deviceId: $deviceId, first: $first, after: $after) {
    edges {
      node {
        ...RecordingFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<ListRecordingsQuery, ListRecordingsQueryVariables>;
export const ExportRecordingDocument = new TypedDocumentString(`
    query ExportRecording($id: ID!) {
  recording(id: $id) {
    ...RecordingFields
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<ExportRecordingQuery, ExportRecordingQueryVariables>;
export const ExportRecordingMessagesDocument = new TypedDocumentString(`
    query ExportRecordingMessages($id: ID!, $first: Int, $after: String) {
  recording(id: $id) {
    messages(first: $first, after: $after) {
      edges {
        node {
          deviceId
          seq
          timestamp
          eventId
          type
          symbol
          data
          headers
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ExportRecordingMessagesQuery, ExportRecordingMessagesQueryVariables>;
export const ImportRecordingDocument = new TypedDocumentString(`
    mutation ImportRecording($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {
  importRecording(input: $input, messages: $messages) {
    ...RecordingFields
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<ImportRecordingMutation, ImportRecordingMutationVariables>;
export const DeleteImportedRecordingDocument = new TypedDocumentString(`
    mutation DeleteImportedRecording($id: ID!) {
  deleteRecording(id: $id)
}
    `) as unknown as TypedDocumentString<DeleteImportedRecordingMutation, DeleteImportedRecordingMutationVariables>;
export const AppendRecordingMessagesDocument = new TypedDocumentString(`
    mutation AppendRecordingMessages($recordingId: ID!, $messages: [RecordedMessageInput!]!) {
  appendRecordingMessages(recordingId: $recordingId, messages: $messages) {
    ...RecordingFields
  }
}
    fragment RecordingFields on Recording {
  id
  deviceId
  status
  startedAt
  stoppedAt
  retention
  expiresAt
  messageCount
  firstMessageAt
  lastMessageAt
  note
}`) as unknown as TypedDocumentString<AppendRecordingMessagesMutation, AppendRecordingMessagesMutationVariables>;
export const RecordingReplayDocument = new TypedDocumentString(`
    subscription RecordingReplay($recordingId: ID!, $from: DateTime, $speed: Float, $loop: Boolean) {
  replay(recordingId: $recordingId, from: $from, speed: $speed, loop: $loop) {
    recordingId
    progress
    message {
      ...DeviceMessageFields
    }
  }
}
    fragment DeviceMessageFields on DeviceMessage {
  deviceId
  seq
  timestamp
  eventId
  type
  symbol
  data
}`) as unknown as TypedDocumentString<RecordingReplaySubscription, RecordingReplaySubscriptionVariables>;
export const ServerStatusDocument = new TypedDocumentString(`
    query ServerStatus {
  health {
    status
    version
    uptimeSeconds
    dependencies {
      name
      status
      latencyMs
      error
    }
  }
}
    `) as unknown as TypedDocumentString<ServerStatusQuery, ServerStatusQueryVariables>;