import * as Apollo3 from '@apollo/client-3/core/index.js';
import { GraphQLWsLink as GraphQLWsLink3 } from '@apollo/client-3/link/subscriptions/index.js';
import { getMainDefinition as getMainDefinition3 } from '@apollo/client-3/utilities/index.js';
import * as Apollo4 from '@apollo/client-4';
import { GraphQLWsLink as GraphQLWsLink4 } from '@apollo/client-4/link/subscriptions';
import { getMainDefinition as getMainDefinition4 } from '@apollo/client-4/utilities';
import { fetchExchange, subscriptionExchange, Client as UrqlClient } from '@urql/core';
import { type DocumentNode, parse } from 'graphql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { type ClientFixture, OPERATIONS, startClientFixture } from './client-fixture.ts';

/** What each client library under test is asked to do, in its own API. */
interface ClientUnderTest {
  /** The transport its subscriptions take, as the gauge labels it. */
  readonly transport: string;
  query(document: string, variables?: Record<string, unknown>): Promise<Record<string, unknown>>;
  mutate(document: string, variables: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The `extensions.code` of the first GraphQL error the library exposes for this operation. */
  errorCode(document: string, variables: Record<string, unknown>): Promise<unknown>;
  subscribe(
    document: string,
    variables: Record<string, unknown>,
  ): { events: AsyncQueue<unknown>; stop(): void };
  dispose(): Promise<void>;
}

function wsClient(fixture: ClientFixture, token: string | undefined): WsClient {
  return createWsClient({
    url: fixture.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
  });
}

function isSubscription(getMainDefinition: (query: DocumentNode) => { kind: string; operation?: string }) {
  return ({ query }: { query: DocumentNode }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
}

function apollo4(fixture: ClientFixture, token: string | undefined): ClientUnderTest {
  const ws = wsClient(fixture, token);
  const client = new Apollo4.ApolloClient({
    cache: new Apollo4.InMemoryCache(),
    link: Apollo4.split(
      isSubscription(getMainDefinition4 as never),
      new GraphQLWsLink4(ws),
      new Apollo4.HttpLink({
        uri: fixture.httpUrl,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    ),
  });
  return {
    transport: 'graphql_ws',
    query: async (document, variables) =>
      (await client.query({ query: parse(document), variables, fetchPolicy: 'network-only' })).data as never,
    mutate: async (document, variables) =>
      (await client.mutate({ mutation: parse(document), variables })).data as never,
    async errorCode(document, variables) {
      const { error } = await client.query({
        query: parse(document),
        variables,
        fetchPolicy: 'network-only',
        errorPolicy: 'all',
      });
      return Apollo4.CombinedGraphQLErrors.is(error)
        ? error.errors[0]?.extensions?.code
        : `not a GraphQL error: ${error}`;
    },
    subscribe(document, variables) {
      const events = new AsyncQueue<unknown>();
      const subscription = client.subscribe({ query: parse(document), variables }).subscribe({
        next: (result) => events.push(result.data),
        error: (error: Error) => events.fail(error),
      });
      return { events, stop: () => subscription.unsubscribe() };
    },
    async dispose() {
      client.stop();
      await ws.dispose();
    },
  };
}

function apollo3(fixture: ClientFixture, token: string | undefined): ClientUnderTest {
  const ws = wsClient(fixture, token);
  const client = new Apollo3.ApolloClient({
    cache: new Apollo3.InMemoryCache(),
    link: Apollo3.split(
      isSubscription(getMainDefinition3 as never),
      new GraphQLWsLink3(ws),
      new Apollo3.HttpLink({
        uri: fixture.httpUrl,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    ),
  });
  return {
    transport: 'graphql_ws',
    query: async (document, variables) =>
      (await client.query({ query: parse(document), variables, fetchPolicy: 'network-only' })).data,
    mutate: async (document, variables) =>
      (await client.mutate({ mutation: parse(document), variables })).data,
    async errorCode(document, variables) {
      try {
        await client.query({ query: parse(document), variables, fetchPolicy: 'network-only' });
        return 'no error';
      } catch (error) {
        return error instanceof Apollo3.ApolloError
          ? error.graphQLErrors[0]?.extensions?.code
          : `not an ApolloError: ${error}`;
      }
    },
    subscribe(document, variables) {
      const events = new AsyncQueue<unknown>();
      const subscription = client.subscribe({ query: parse(document), variables }).subscribe({
        next: (result) => events.push(result.data),
        error: (error: Error) => events.fail(error),
      });
      return { events, stop: () => subscription.unsubscribe() };
    },
    async dispose() {
      client.stop();
      await ws.dispose();
    },
  };
}

function urql(
  fixture: ClientFixture,
  token: string | undefined,
  over: 'graphql-ws' | 'sse',
): ClientUnderTest {
  const ws = over === 'graphql-ws' ? wsClient(fixture, token) : undefined;
  const client = new UrqlClient({
    url: fixture.httpUrl,
    fetchOptions: { headers: token ? { authorization: `Bearer ${token}` } : {} },
    fetchSubscriptions: over === 'sse',
    exchanges: ws
      ? [
          subscriptionExchange({
            forwardSubscription: (request) => ({
              subscribe: (sink) => ({
                unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
              }),
            }),
          }),
          fetchExchange,
        ]
      : [fetchExchange],
  });
  return {
    transport: over === 'sse' ? 'graphql_sse' : 'graphql_ws',
    query: async (document, variables) => (await client.query(document, variables ?? {}).toPromise()).data,
    mutate: async (document, variables) => (await client.mutation(document, variables).toPromise()).data,
    errorCode: async (document, variables) =>
      (await client.query(document, variables).toPromise()).error?.graphQLErrors[0]?.extensions?.code,
    subscribe(document, variables) {
      const events = new AsyncQueue<unknown>();
      const subscription = client.subscription(document, variables).subscribe((result) => {
        if (result.error) events.fail(result.error);
        else events.push(result.data);
      });
      return { events, stop: () => subscription.unsubscribe() };
    },
    async dispose() {
      await ws?.dispose();
    },
  };
}

describe.each([
  ['Apollo Client 4', apollo4],
  ['Apollo Client 3', apollo3],
  ['urql over graphql-ws', (f: ClientFixture, t: string | undefined) => urql(f, t, 'graphql-ws')],
  ['urql over SSE', (f: ClientFixture, t: string | undefined) => urql(f, t, 'sse')],
] as const)('%s, unchanged', (_name, make) => {
  let fixture: ClientFixture;
  let client: ClientUnderTest;
  let anonymous: ClientUnderTest;
  beforeAll(async () => {
    fixture = await startClientFixture();
    client = make(fixture, fixture.token);
    anonymous = make(fixture, undefined);
  });
  afterAll(async () => {
    await client?.dispose();
    await anonymous?.dispose();
    await fixture?.stop();
  });

  it('runs a query', async () => {
    expect(await client.query(OPERATIONS.viewer)).toMatchObject({
      viewer: { userId: 'alice', tenantId: 'tenant-a' },
    });
  });

  it('runs a mutation', async () => {
    const id = `lib${Date.now()}${Math.floor(Math.random() * 1000)}`;
    expect(await client.mutate(OPERATIONS.createState, { id })).toMatchObject({ createState: { id } });
  });

  it('exposes an auth error with its extensions.code', async () => {
    expect(await anonymous.errorCode('query Topics { topics { name } }', {})).toBe('UNAUTHENTICATED');
  });

  it('receives subscription events; its unsubscribe shows on the server gauge', async () => {
    const stateId = await fixture.newStateId();
    const live = client.subscribe(OPERATIONS.stateStream, { stateId });
    await fixture.waitForOpenSubscriptions('stateStream', client.transport, 1);
    await fixture.publish(stateId, { n: 1 });
    await fixture.publish(stateId, { n: 2 });
    const events = await live.events.take(2, 10_000, 'two state events');
    expect(events).toEqual([
      {
        stateStream: expect.objectContaining({
          stateId,
          data: expect.objectContaining({ query_state: [{ n: 1 }] }),
        }),
      },
      {
        stateStream: expect.objectContaining({
          stateId,
          data: expect.objectContaining({ query_state: [{ n: 2 }] }),
        }),
      },
    ]);
    live.stop();
    await fixture.waitForOpenSubscriptions('stateStream', client.transport, 0);
  });
});
