import { graphql } from './gql/index.ts';

// Fragments shared by the command groups' documents (codegen appends them where they are spread).

export const DeviceMessageFields = graphql(`
  fragment DeviceMessageFields on DeviceMessage {
    deviceId
    seq
    timestamp
    eventId
    type
    symbol
    data
  }
`);

export const RecordingFields = graphql(`
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
`);
