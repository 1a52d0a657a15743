/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

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
    "\n  subscription LegacyDataSourceProvider($id: ID!) {\n    dataSourceRequests(id: $id) {\n      id\n      operation\n      query\n    }\n  }\n": typeof types.LegacyDataSourceProviderDocument,
    "\n  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {\n    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)\n  }\n": typeof types.LegacyDataSourceAnswerDocument,
    "\n  subscription LegacyStateStream($stateId: ID!, $sessionId: ID) {\n    stateStream(stateId: $stateId, sessionId: $sessionId) {\n      raw\n    }\n  }\n": typeof types.LegacyStateStreamDocument,
    "\n  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {\n    topicMessages(topics: $topics, filter: $filter, after: $after) {\n      topic\n      key\n      data\n      timestamp\n      partition\n      offset\n      position\n    }\n  }\n": typeof types.LegacyTopicMessagesDocument,
    "\n  query LegacyTopics {\n    topics {\n      name\n    }\n  }\n": typeof types.LegacyTopicsDocument,
};
const documents: Documents = {
    "\n  subscription LegacyDataSourceProvider($id: ID!) {\n    dataSourceRequests(id: $id) {\n      id\n      operation\n      query\n    }\n  }\n": types.LegacyDataSourceProviderDocument,
    "\n  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {\n    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)\n  }\n": types.LegacyDataSourceAnswerDocument,
    "\n  subscription LegacyStateStream($stateId: ID!, $sessionId: ID) {\n    stateStream(stateId: $stateId, sessionId: $sessionId) {\n      raw\n    }\n  }\n": types.LegacyStateStreamDocument,
    "\n  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {\n    topicMessages(topics: $topics, filter: $filter, after: $after) {\n      topic\n      key\n      data\n      timestamp\n      partition\n      offset\n      position\n    }\n  }\n": types.LegacyTopicMessagesDocument,
    "\n  query LegacyTopics {\n    topics {\n      name\n    }\n  }\n": types.LegacyTopicsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LegacyDataSourceProvider($id: ID!) {\n    dataSourceRequests(id: $id) {\n      id\n      operation\n      query\n    }\n  }\n"): (typeof documents)["\n  subscription LegacyDataSourceProvider($id: ID!) {\n    dataSourceRequests(id: $id) {\n      id\n      operation\n      query\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {\n    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)\n  }\n"): (typeof documents)["\n  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {\n    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LegacyStateStream($stateId: ID!, $sessionId: ID) {\n    stateStream(stateId: $stateId, sessionId: $sessionId) {\n      raw\n    }\n  }\n"): (typeof documents)["\n  subscription LegacyStateStream($stateId: ID!, $sessionId: ID) {\n    stateStream(stateId: $stateId, sessionId: $sessionId) {\n      raw\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {\n    topicMessages(topics: $topics, filter: $filter, after: $after) {\n      topic\n      key\n      data\n      timestamp\n      partition\n      offset\n      position\n    }\n  }\n"): (typeof documents)["\n  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {\n    topicMessages(topics: $topics, filter: $filter, after: $after) {\n      topic\n      key\n      data\n      timestamp\n      partition\n      offset\n      position\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LegacyTopics {\n    topics {\n      name\n    }\n  }\n"): (typeof documents)["\n  query LegacyTopics {\n    topics {\n      name\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;