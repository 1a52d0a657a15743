import { type DataSourceInfo, DEFAULT_QUERY_TIMEOUT_MS } from '../domain/datasources/data-source-service.ts';
import type { DataSourceRequest } from '../domain/datasources/provider.ts';
import {
  resolveAnswerDataSource,
  resolveDataSourceRequests,
  resolveDataSources,
  resolveQueryDataSource,
} from '../resolvers/data-sources.ts';
import { builder } from './builder.ts';

const DataSourceRef = builder.objectRef<DataSourceInfo>('DataSource').implement({
  description: 'A data source of the ISM network: requests on `datasource.{id}` go to one of its providers.',
  fields: (t) => ({
    id: t.exposeID('id'),
    connectedProviders: t.exposeInt('connectedProviders', {
      description: 'Providers connected to the instance that answers this query (not the whole cluster).',
    }),
  }),
});

const DataSourceRequestRef = builder.objectRef<DataSourceRequest>('DataSourceRequest').implement({
  description: 'One request for a provider; answer it with answerDataSource(requestId: id).',
  fields: (t) => ({
    id: t.exposeID('id'),
    dataSourceId: t.exposeID('dataSourceId'),
    query: t.expose('query', {
      type: 'JSON',
      description: "The requester's payload (queryDataSource's query).",
    }),
    operation: t.exposeString('operation', {
      nullable: true,
      description: "The requester's operation, when it sent one (legacy.md A).",
    }),
    deadline: t.expose('deadline', {
      type: 'DateTime',
      description: 'After this the request goes to another provider or fails; a later answer is refused.',
    }),
  }),
});

builder.queryField('dataSources', (t) =>
  t.field({
    type: [DataSourceRef],
    description: "The caller's tenant's data sources (those a provider has connected to).",
    resolve: (_root, _args, context) => resolveDataSources(context),
  }),
);

builder.queryField('queryDataSource', (t) =>
  t.field({
    type: 'JSON',
    nullable: true,
    description:
      'Request/reply: sends `query` to one connected provider of the data source and returns its answer.\nErrors: NO_PROVIDER when none is connected, TIMEOUT after timeoutMs.',
    args: {
      id: t.arg.id({ required: true }),
      query: t.arg({ type: 'JSON', required: true }),
      timeoutMs: t.arg.int({ defaultValue: DEFAULT_QUERY_TIMEOUT_MS }),
    },
    resolve: (_root, args, context) => resolveQueryDataSource(context, args),
  }),
);

builder.mutationField('answerDataSource', (t) =>
  t.field({
    type: 'Boolean',
    description: 'Data-source providers answer the requests they received on `dataSourceRequests`.',
    args: {
      requestId: t.arg.id({ required: true }),
      result: t.arg({ type: 'JSON' }),
      error: t.arg.string(),
      answerId: t.arg.id({
        description:
          "The id the requester's reply carries (legacy.md A: the provider's own id); a new UUID when omitted.",
      }),
    },
    resolve: (_root, args, context) => resolveAnswerDataSource(context, args),
  }),
);

builder.subscriptionField('dataSourceRequests', (t) =>
  t.field({
    type: DataSourceRequestRef,
    description: 'Data-source providers receive requests here and answer with answerDataSource.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, context) => resolveDataSourceRequests(context, id),
    resolve: (request: DataSourceRequest) => request,
  }),
);
