import { graphql } from '../gql/index.ts';

/** The operations a /ws/ds socket translates to (DESIGN.md decision 1); `npm run codegen` types them. */
export const LegacyDataSourceProviderDocument = graphql(`
  subscription LegacyDataSourceProvider($id: ID!) {
    dataSourceRequests(id: $id) {
      id
      operation
      query
    }
  }
`);

export const LegacyDataSourceAnswerDocument = graphql(`
  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {
    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)
  }
`);
