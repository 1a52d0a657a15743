import { type DocumentNode, parse } from 'graphql';

/** The operations a /ws/ds socket translates to (DESIGN.md decision 1). */
export const LegacyDataSourceProviderDocument: DocumentNode = parse(/* GraphQL */ `
  subscription LegacyDataSourceProvider($id: ID!) {
    dataSourceRequests(id: $id) { id operation query }
  }
`);
export const LegacyDataSourceAnswerDocument: DocumentNode = parse(/* GraphQL */ `
  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {
    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)
  }
`);
