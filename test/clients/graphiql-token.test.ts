import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { signToken } from '../helpers/tokens.ts';
import { type ClientFixture, OPERATIONS, startClientFixture } from './client-fixture.ts';

interface Result {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/**
 * GraphiQL's own way of sending a token over graphql-ws: an empty connection_init and the Headers
 * tab inside each subscribe message (`payload.extensions.headers`). The browser test drives the
 * real page; this one pins the wire format and the bad-token cases.
 */
describe('GraphiQL served offline, its Headers tab over graphql-ws', () => {
  let fixture: ClientFixture;
  beforeAll(async () => {
    fixture = await startClientFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  function subscribeAsGraphiql(
    query: string,
    variables: Record<string, unknown>,
    headers: Record<string, unknown>,
  ) {
    const client = createClient({ url: fixture.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    const results = new AsyncQueue<Result>();
    // graphql-ws hands a refused operation's GraphQL errors to `error` as an array.
    const refusals = new AsyncQueue<Result['errors']>();
    const stop = client.subscribe(
      { query, variables, extensions: { headers } },
      {
        next: (result) => results.push(result as Result),
        error: (error) => refusals.push(error as Result['errors']),
        complete: () => undefined,
      },
    );
    return {
      results,
      refusals,
      async dispose() {
        stop();
        await client.dispose();
      },
    };
  }

  it('serves the page with its assets inlined and the streamgate title', async () => {
    const response = await fetch(fixture.httpUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain('<title>streamgate</title>');
    expect(page).toContain('YogaGraphiQL.renderYogaGraphiQL');
    // No script, stylesheet or icon is fetched from anywhere: everything is in the page.
    expect(page.match(/<script[^>]*\ssrc=/g)).toBeNull();
    expect(page.match(/<link[^>]*\shref="https?:/g)).toBeNull();
    expect(page).not.toContain('unpkg.com');
    expect(page).not.toContain('cdn.jsdelivr.net');
  });

  it('a token in extensions.headers authenticates a guarded subscription; the gauge sees it open and closed', async () => {
    const stateId = await fixture.newStateId();
    const subscription = subscribeAsGraphiql(
      OPERATIONS.stateStream,
      { stateId },
      { Authorization: `Bearer ${fixture.token}` },
    );
    try {
      await fixture.waitForOpenSubscriptions('stateStream', 'graphql_ws', 1);
      await fixture.publish(stateId, { temperature: 21 });
      const event = await subscription.results.next(10_000, 'the published entry');
      expect(event.errors).toBeUndefined();
      expect(event.data?.stateStream).toMatchObject({
        stateId,
        data: { query_state: [{ temperature: 21 }] },
      });
      const stats = (await (await fetch(`${fixture.server.url}/stats`)).json()) as {
        graphql: { active_subscriptions: number; by_transport: Record<string, number> };
      };
      expect(stats.graphql.active_subscriptions).toBe(1);
      expect(stats.graphql.by_transport).toEqual({ graphql_ws: 1 });
    } finally {
      await subscription.dispose();
    }
    await fixture.waitForOpenSubscriptions('stateStream', 'graphql_ws', 0);
  });

  it('a query runs as the token of its extensions.headers', async () => {
    const token = await signToken({ sub: 'graphiql-user', tenantId: 'tenant-g' });
    const query = subscribeAsGraphiql(OPERATIONS.viewer, {}, { authorization: `Bearer ${token}` });
    try {
      expect(await query.results.next()).toEqual({
        data: { viewer: { userId: 'graphiql-user', tenantId: 'tenant-g' } },
      });
    } finally {
      await query.dispose();
    }
  });

  it.each([
    ['an expired token', async () => `Bearer ${await signToken({ expiresIn: -60 })}`, /expired/],
    [
      'a token of another key',
      async () => `Bearer ${await signToken({ secret: 'x'.repeat(40) })}`,
      /signature/,
    ],
    ['no "Bearer"', async () => 'Basic abc', /must be "Bearer <token>"/],
    ['a number', async () => 42, /must be a string/],
  ])(
    '%s in extensions.headers: that operation is UNAUTHENTICATED, saying why',
    async (_case, header, why) => {
      const stateId = await fixture.newStateId();
      const subscription = subscribeAsGraphiql(
        OPERATIONS.stateStream,
        { stateId },
        { authorization: await header() },
      );
      try {
        const errors = await subscription.refusals.next();
        expect(errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        expect(errors?.[0]?.message).toMatch(why);
      } finally {
        await subscription.dispose();
      }
    },
  );

  it('without any token a guarded subscription is UNAUTHENTICATED', async () => {
    const stateId = await fixture.newStateId();
    const subscription = subscribeAsGraphiql(OPERATIONS.stateStream, { stateId }, {});
    try {
      const result = await subscription.results.next();
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await subscription.dispose();
    }
  });
});
