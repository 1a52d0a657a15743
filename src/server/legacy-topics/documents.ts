import { type DocumentNode, parse } from 'graphql';

/** The operations the legacy topic adapters translate to (DESIGN.md decision 1). */
export const LegacyTopicMessagesDocument: DocumentNode = parse(/* GraphQL */ `
  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {
    topicMessages(topics: $topics, filter: $filter, after: $after) {
      topic key data timestamp partition offset position
    }
  }
`);
export const LegacyTopicsDocument: DocumentNode = parse(/* GraphQL */ `
  query LegacyTopics { topics { name } }
`);
