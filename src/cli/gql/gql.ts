/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  subscription DeviceTail($deviceId: ID!) {\n    deviceMessages(deviceId: $deviceId) {\n      ...DeviceMessageFields\n    }\n  }\n": typeof types.DeviceTailDocument,
    "\n  fragment DeviceMessageFields on DeviceMessage {\n    deviceId\n    seq\n    timestamp\n    eventId\n    type\n    symbol\n    data\n  }\n": typeof types.DeviceMessageFieldsFragmentDoc,
    "\n  fragment RecordingFields on Recording {\n    id\n    deviceId\n    status\n    startedAt\n    stoppedAt\n    retention\n    expiresAt\n    messageCount\n    firstMessageAt\n    lastMessageAt\n    note\n  }\n": typeof types.RecordingFieldsFragmentDoc,
    "\n  mutation StartRecording(\n    $deviceId: ID!\n    $id: ID\n    $retention: Duration\n    $includeBuffer: Boolean\n    $preRoll: Duration\n    $note: String\n  ) {\n    startRecording(\n      deviceId: $deviceId\n      id: $id\n      retention: $retention\n      includeBuffer: $includeBuffer\n      preRoll: $preRoll\n      note: $note\n    ) {\n      ...RecordingFields\n    }\n  }\n": typeof types.StartRecordingDocument,
    "\n  mutation StopRecording($id: ID!) {\n    stopRecording(id: $id) {\n      ...RecordingFields\n    }\n  }\n": typeof types.StopRecordingDocument,
    "\n  mutation DeleteRecording($id: ID!) {\n    deleteRecording(id: $id)\n  }\n": typeof types.DeleteRecordingDocument,
    "\n  query ShowRecording($id: ID!) {\n    recording(id: $id) {\n      ...RecordingFields\n    }\n  }\n": typeof types.ShowRecordingDocument,
    "\n  query ListRecordings($deviceId: ID, $first: Int, $after: String) {\n    recordings(deviceId: $deviceId, first: $first, after: $after) {\n      edges {\n        node {\n          ...RecordingFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.ListRecordingsDocument,
    "\n  query ExportRecording($id: ID!) {\n    recording(id: $id) {\n      ...RecordingFields\n    }\n  }\n": typeof types.ExportRecordingDocument,
    "\n  query ExportRecordingMessages($id: ID!, $first: Int, $after: String) {\n    recording(id: $id) {\n      messages(first: $first, after: $after) {\n        edges {\n          node {\n            deviceId\n            seq\n            timestamp\n            eventId\n            type\n            symbol\n            data\n            headers\n          }\n        }\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n": typeof types.ExportRecordingMessagesDocument,
    "\n  mutation ImportRecording($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {\n    importRecording(input: $input, messages: $messages) {\n      ...RecordingFields\n    }\n  }\n": typeof types.ImportRecordingDocument,
    "\n  mutation DeleteImportedRecording($id: ID!) {\n    deleteRecording(id: $id)\n  }\n": typeof types.DeleteImportedRecordingDocument,
    "\n  mutation AppendRecordingMessages($recordingId: ID!, $messages: [RecordedMessageInput!]!) {\n    appendRecordingMessages(recordingId: $recordingId, messages: $messages) {\n      ...RecordingFields\n    }\n  }\n": typeof types.AppendRecordingMessagesDocument,
    "\n  subscription RecordingReplay($recordingId: ID!, $from: DateTime, $speed: Float, $loop: Boolean) {\n    replay(recordingId: $recordingId, from: $from, speed: $speed, loop: $loop) {\n      recordingId\n      progress\n      message {\n        ...DeviceMessageFields\n      }\n    }\n  }\n": typeof types.RecordingReplayDocument,
    "\n  query ServerStatus {\n    health {\n      status\n      version\n      uptimeSeconds\n      dependencies {\n        name\n        status\n        latencyMs\n        error\n      }\n    }\n  }\n": typeof types.ServerStatusDocument,
};
const documents: Documents = {
    "\n  subscription DeviceTail($deviceId: ID!) {\n    deviceMessages(deviceId: $deviceId) {\n      ...DeviceMessageFields\n    }\n  }\n": types.DeviceTailDocument,
    "\n  fragment DeviceMessageFields on DeviceMessage {\n    deviceId\n    seq\n    timestamp\n    eventId\n    type\n    symbol\n    data\n  }\n": types.DeviceMessageFieldsFragmentDoc,
    "\n  fragment RecordingFields on Recording {\n    id\n    deviceId\n    status\n    startedAt\n    stoppedAt\n    retention\n    expiresAt\n    messageCount\n    firstMessageAt\n    lastMessageAt\n    note\n  }\n": types.RecordingFieldsFragmentDoc,
    "\n  mutation StartRecording(\n    $deviceId: ID!\n    $id: ID\n    $retention: Duration\n    $includeBuffer: Boolean\n    $preRoll: Duration\n    $note: String\n  ) {\n    startRecording(\n      deviceId: $deviceId\n      id: $id\n      retention: $retention\n      includeBuffer: $includeBuffer\n      preRoll: $preRoll\n      note: $note\n    ) {\n      ...RecordingFields\n    }\n  }\n": types.StartRecordingDocument,
    "\n  mutation StopRecording($id: ID!) {\n    stopRecording(id: $id) {\n      ...RecordingFields\n    }\n  }\n": types.StopRecordingDocument,
    "\n  mutation DeleteRecording($id: ID!) {\n    deleteRecording(id: $id)\n  }\n": types.DeleteRecordingDocument,
    "\n  query ShowRecording($id: ID!) {\n    recording(id: $id) {\n      ...RecordingFields\n    }\n  }\n": types.ShowRecordingDocument,
    "\n  query ListRecordings($deviceId: ID, $first: Int, $after: String) {\n    recordings(deviceId: $deviceId, first: $first, after: $after) {\n      edges {\n        node {\n          ...RecordingFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.ListRecordingsDocument,
    "\n  query ExportRecording($id: ID!) {\n    recording(id: $id) {\n      ...RecordingFields\n    }\n  }\n": types.ExportRecordingDocument,
    "\n  query ExportRecordingMessages($id: ID!, $first: Int, $after: String) {\n    recording(id: $id) {\n      messages(first: $first, after: $after) {\n        edges {\n          node {\n            deviceId\n            seq\n            timestamp\n            eventId\n            type\n            symbol\n            data\n            headers\n          }\n        }\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n": types.ExportRecordingMessagesDocument,
    "\n  mutation ImportRecording($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {\n    importRecording(input: $input, messages: $messages) {\n      ...RecordingFields\n    }\n  }\n": types.ImportRecordingDocument,
    "\n  mutation DeleteImportedRecording($id: ID!) {\n    deleteRecording(id: $id)\n  }\n": types.DeleteImportedRecordingDocument,
    "\n  mutation AppendRecordingMessages($recordingId: ID!, $messages: [RecordedMessageInput!]!) {\n    appendRecordingMessages(recordingId: $recordingId, messages: $messages) {\n      ...RecordingFields\n    }\n  }\n": types.AppendRecordingMessagesDocument,
    "\n  subscription RecordingReplay($recordingId: ID!, $from: DateTime, $speed: Float, $loop: Boolean) {\n    replay(recordingId: $recordingId, from: $from, speed: $speed, loop: $loop) {\n      recordingId\n      progress\n      message {\n        ...DeviceMessageFields\n      }\n    }\n  }\n": types.RecordingReplayDocument,
    "\n  query ServerStatus {\n    health {\n      status\n      version\n      uptimeSeconds\n      dependencies {\n        name\n        status\n        latencyMs\n        error\n      }\n    }\n  }\n": types.ServerStatusDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DeviceTail($deviceId: ID!) {\n    deviceMessages(deviceId: $deviceId) {\n      ...DeviceMessageFields\n    }\n  }\n"): typeof import('./graphql.js').DeviceTailDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment DeviceMessageFields on DeviceMessage {\n    deviceId\n    seq\n    timestamp\n    eventId\n    type\n    symbol\n    data\n  }\n"): typeof import('./graphql.js').DeviceMessageFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment RecordingFields on Recording {\n    id\n    deviceId\n    status\n    startedAt\n    stoppedAt\n    retention\n    expiresAt\n    messageCount\n    firstMessageAt\n    lastMessageAt\n    note\n  }\n"): typeof import('./graphql.js').RecordingFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartRecording(\n    $deviceId: ID!\n    $id: ID\n    $retention: Duration\n    $includeBuffer: Boolean\n    $preRoll: Duration\n    $note: String\n  ) {\n    startRecording(\n      deviceId: $deviceId\n      id: $id\n      retention: $retention\n      includeBuffer: $includeBuffer\n      preRoll: $preRoll\n      note: $note\n    ) {\n      ...RecordingFields\n    }\n  }\n"): typeof import('./graphql.js').StartRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StopRecording($id: ID!) {\n    stopRecording(id: $id) {\n      ...RecordingFields\n    }\n  }\n"): typeof import('./graphql.js').StopRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteRecording($id: ID!) {\n    deleteRecording(id: $id)\n  }\n"): typeof import('./graphql.js').DeleteRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ShowRecording($id: ID!) {\n    recording(id: $id) {\n      ...RecordingFields\n    }\n  }\n"): typeof import('./graphql.js').ShowRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ListRecordings($deviceId: ID, $first: Int, $after: String) {\n    recordings(deviceId: $deviceId, first: $first, after: $after) {\n      edges {\n        node {\n          ...RecordingFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): typeof import('./graphql.js').ListRecordingsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ExportRecording($id: ID!) {\n    recording(id: $id) {\n      ...RecordingFields\n    }\n  }\n"): typeof import('./graphql.js').ExportRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ExportRecordingMessages($id: ID!, $first: Int, $after: String) {\n    recording(id: $id) {\n      messages(first: $first, after: $after) {\n        edges {\n          node {\n            deviceId\n            seq\n            timestamp\n            eventId\n            type\n            symbol\n            data\n            headers\n          }\n        }\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n"): typeof import('./graphql.js').ExportRecordingMessagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ImportRecording($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {\n    importRecording(input: $input, messages: $messages) {\n      ...RecordingFields\n    }\n  }\n"): typeof import('./graphql.js').ImportRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteImportedRecording($id: ID!) {\n    deleteRecording(id: $id)\n  }\n"): typeof import('./graphql.js').DeleteImportedRecordingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AppendRecordingMessages($recordingId: ID!, $messages: [RecordedMessageInput!]!) {\n    appendRecordingMessages(recordingId: $recordingId, messages: $messages) {\n      ...RecordingFields\n    }\n  }\n"): typeof import('./graphql.js').AppendRecordingMessagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RecordingReplay($recordingId: ID!, $from: DateTime, $speed: Float, $loop: Boolean) {\n    replay(recordingId: $recordingId, from: $from, speed: $speed, loop: $loop) {\n      recordingId\n      progress\n      message {\n        ...DeviceMessageFields\n      }\n    }\n  }\n"): typeof import('./graphql.js').RecordingReplayDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ServerStatus {\n    health {\n      status\n      version\n      uptimeSeconds\n      dependencies {\n        name\n        status\n        latencyMs\n        error\n      }\n    }\n  }\n"): typeof import('./graphql.js').ServerStatusDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
