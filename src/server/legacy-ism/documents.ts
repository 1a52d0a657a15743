import { graphql } from '../gql/index.ts';

/** The operation a /ws/stream/{state} socket runs: only the raw frame is needed; `npm run codegen` types it. */
export const LegacyStateStreamDocument = graphql(`
  subscription LegacyStateStream($stateId: ID!, $sessionId: ID) {
    stateStream(stateId: $stateId, sessionId: $sessionId) {
      raw
    }
  }
`);
