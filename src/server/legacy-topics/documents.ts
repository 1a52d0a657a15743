import { graphql } from '../gql/index.ts';

/** The operations the legacy topic adapters translate to (DESIGN.md decision 1); `npm run codegen` types them. */
export const LegacyTopicMessagesDocument = graphql(`
  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {
    topicMessages(topics: $topics, filter: $filter, after: $after) {
      topic
      key
      data
      timestamp
      partition
      offset
      position
    }
  }
`);

export const LegacyTopicsDocument = graphql(`
  query LegacyTopics {
    topics {
      name
    }
  }
`);
