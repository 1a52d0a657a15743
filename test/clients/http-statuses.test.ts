import { SubscriptionClient } from 'subscriptions-transport-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { readSse } from '../helpers/sse-client.ts';
import { signToken } from '../helpers/tokens.ts';
import { type ClientFixture, startClientFixture } from './client-fixture.ts';

const JSON_ONLY = 'application/json';
const SPEC_JSON = 'application/graphql-response+json';

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: {
    data?: unknown;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

/**
 * The GraphQL-over-HTTP spec's statuses: `application/json` answers every well-formed request 200
 * (the errors are in the body, where Apollo Client and urql read them); the spec's own
 * `application/graphql-response+json` keeps 4xx when the whole request is refused; SSE is 200
 * with a `next` carrying the errors, then `complete`.
 */
describe('HTTP statuses and error codes per transport', () => {
  let fixture: ClientFixture;
  let readerToken: string;
  beforeAll(async () => {
    fixture = await startClientFixture({ MUTATION_ROLES: 'createState=writer' });
    readerToken = await signToken({ sub: 'reader', roles: [] });
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  async function post(query: string, accept: string | undefined, token?: string): Promise<Answer> {
    const response = await fetch(fixture.httpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(accept ? { accept } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query }),
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: await response.json(),
    };
  }

  async function sse(query: string, token?: string) {
    const response = await fetch(fixture.httpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query }),
    });
    const { events } = readSse(response);
    const next = await events.next(5_000, 'the next event');
    const complete = await events.next(5_000, 'the complete event');
    return { status: response.status, next, complete };
  }

  const cases = [
    ['a missing token', '{ topics { name } }', () => undefined, 'UNAUTHENTICATED', 401],
    ['a bad token', '{ viewer { userId } }', () => 'not-a-jwt', 'UNAUTHENTICATED', 401],
    [
      'a mutation without its role',
      'mutation { createState(input: { name: "x" }) { id } }',
      () => readerToken,
      'FORBIDDEN',
      403,
    ],
    ['a document the schema refuses', '{ noSuchField }', () => readerToken, 'BAD_USER_INPUT', 400],
    ['a syntax error', '{ viewer { ', () => readerToken, 'BAD_USER_INPUT', 400],
  ] as const;

  it.each(cases)(
    '%s: 200 with the error for application/json (and for Accept: */*)',
    async (_case, query, token, code) => {
      for (const accept of [JSON_ONLY, '*/*', undefined]) {
        const answer = await post(query, accept, token());
        expect(answer.status).toBe(200);
        expect(answer.contentType).toMatch(/^application\/json/);
        expect(answer.body.errors?.[0]?.extensions?.code).toBe(code);
      }
    },
  );

  it.each(cases)(
    '%s: the spec status for application/graphql-response+json',
    async (_case, query, token, code, status) => {
      const answer = await post(query, SPEC_JSON, token());
      expect(answer.status).toBe(status);
      expect(answer.contentType).toMatch(/^application\/graphql-response\+json/);
      expect(answer.body.errors?.[0]?.extensions?.code).toBe(code);
    },
  );

  it('a document the schema refuses is BAD_USER_INPUT on every transport, with the reason', async () => {
    const httpAnswer = await post('{ noSuchField }', JSON_ONLY, readerToken);
    expect(httpAnswer.body.errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'GRAPHQL_VALIDATION_FAILED',
    });
    const sseAnswer = await sse('subscription { noSuchField }', readerToken);
    expect(sseAnswer.status).toBe(200);
    expect(JSON.parse(sseAnswer.next.data).errors[0].extensions).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'GRAPHQL_VALIDATION_FAILED',
    });
    const { client } = connectWs(fixture.wsUrl, {
      connectionParams: { authorization: `Bearer ${readerToken}` },
    });
    try {
      const refused = subscribeWs(client, 'subscription { noSuchField }');
      const error = await refused.done.then(
        () => undefined,
        (errors: unknown) => errors,
      );
      expect((error as Array<{ extensions: unknown }>)[0]?.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'GRAPHQL_VALIDATION_FAILED',
      });
      const syntax = subscribeWs(client, 'subscription { ');
      const syntaxError = await syntax.done.then(
        () => undefined,
        (errors: unknown) => errors,
      );
      expect((syntaxError as Array<{ extensions: unknown }>)[0]?.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'GRAPHQL_PARSE_FAILED',
      });
    } finally {
      await client.dispose();
    }
    // The old Apollo protocol, with its own client: the errors come in a `data`, as GraphQL errors.
    const apollo = new SubscriptionClient(
      fixture.wsUrl,
      { connectionParams: { authorization: `Bearer ${readerToken}` } },
      WebSocket,
    );
    try {
      for (const [query, reason] of [
        ['subscription { noSuchField }', 'GRAPHQL_VALIDATION_FAILED'],
        ['subscription { ', 'GRAPHQL_PARSE_FAILED'],
      ] as const) {
        const result = await new Promise<{ readonly errors?: ReadonlyArray<{ extensions?: unknown }> }>(
          (resolve, reject) => apollo.request({ query }).subscribe({ next: resolve, error: reject }),
        );
        expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', reason });
      }
    } finally {
      apollo.close();
    }
  });

  it.each([
    [
      'an unknown topic (NOT_FOUND)',
      'subscription { topicMessages(topics: ["no-such-topic"]) { topic } }',
      'NOT_FOUND',
    ],
    [
      'a guarded subscription without a token',
      'subscription { topicMessages(topics: ["prices"]) { topic } }',
      'UNAUTHENTICATED',
    ],
  ])('SSE: %s is refused with 200, a next event with the error, then complete', async (name, query, code) => {
    const answer = await sse(query, name.includes('without') ? undefined : fixture.token);
    expect(answer.status).toBe(200);
    expect(answer.next.event).toBe('next');
    const payload = JSON.parse(answer.next.data);
    expect(payload.data).toBeUndefined();
    expect(payload.errors[0].extensions.code).toBe(code);
    expect(answer.complete.event).toBe('complete');
  });
});
