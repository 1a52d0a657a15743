import { type Client, createClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { type ClientFixture, OPERATIONS, startClientFixture } from './client-fixture.ts';

interface Result {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/** graphql-sse's own client, unchanged, in both of its modes. */
describe.each([
  ['distinct connections', '/graphql', false],
  ['single connection', '/graphql/stream', true],
])('graphql-sse, %s', (_mode, path, singleConnection) => {
  let fixture: ClientFixture;
  let client: Client;
  let anonymous: Client;
  beforeAll(async () => {
    fixture = await startClientFixture();
    const url = `${fixture.server.url}${path}`;
    client = createClient({
      url,
      singleConnection,
      retryAttempts: 0,
      headers: { authorization: `Bearer ${fixture.token}` },
    });
    anonymous = createClient({ url, singleConnection, retryAttempts: 0 });
  });
  afterAll(async () => {
    client?.dispose();
    anonymous?.dispose();
    await fixture?.stop();
  });

  function run(on: Client, query: string, variables: Record<string, unknown> = {}) {
    const results = new AsyncQueue<Result>();
    let completed = false;
    const dispose = on.subscribe(
      { query, variables },
      {
        next: (result) => results.push(result as Result),
        error: (error) => results.fail(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => {
          completed = true;
        },
      },
    );
    return { results, dispose, completed: () => completed };
  }

  it('runs a query', async () => {
    const query = run(client, OPERATIONS.viewer);
    expect(await query.results.next()).toEqual({
      data: { viewer: { userId: 'alice', tenantId: 'tenant-a' } },
    });
  });

  it('runs a mutation', async () => {
    const mutation = run(client, OPERATIONS.createState, { id: `sse${Date.now()}` });
    expect(await mutation.results.next()).toEqual({
      data: { createState: { id: expect.stringMatching(/^sse/) } },
    });
  });

  it('streams a subscription; the unsubscribe shows on the gauge', async () => {
    const stateId = await fixture.newStateId();
    const live = run(client, OPERATIONS.stateStream, { stateId });
    await fixture.waitForOpenSubscriptions('stateStream', 'graphql_sse', 1);
    await fixture.publish(stateId, { n: 1 });
    await fixture.publish(stateId, { n: 2 });
    const events = await live.results.take(2, 10_000, 'two state events');
    expect(events.map((event) => event.data?.stateStream)).toEqual([
      expect.objectContaining({ stateId, data: expect.objectContaining({ query_state: [{ n: 1 }] }) }),
      expect.objectContaining({ stateId, data: expect.objectContaining({ query_state: [{ n: 2 }] }) }),
    ]);
    live.dispose();
    await fixture.waitForOpenSubscriptions('stateStream', 'graphql_sse', 0);
  });

  it('exposes an auth error with its extensions.code', async () => {
    const stateId = await fixture.newStateId();
    const refused = run(anonymous, OPERATIONS.stateStream, { stateId });
    const result = await refused.results.next();
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(result.errors?.[0]?.message).toBe('a token is required for stateStream');
  });

  it('a document the schema refuses is BAD_USER_INPUT', async () => {
    const refused = run(client, 'subscription { noSuchField }');
    const result = await refused.results.next().catch((error: Error) => JSON.parse(error.message) as Result);
    expect(JSON.stringify(result)).toContain('BAD_USER_INPUT');
  });
});
