import { buildSchema } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import { afterEach, describe, expect, it } from 'vitest';
import {
  expireUnopenedReservations,
  type ReservingHandler,
} from '../../src/server/graphql-sse/stream-reservations.ts';
import { waitUntil } from '../helpers/async-queue.ts';

const URL = 'http://127.0.0.1/graphql/stream';
const schema = buildSchema('type Query { ok: Boolean }');

/** graphql-sse's own handler, as the route uses it, with reservations expiring after 50 ms. */
function reservingHandler(): ReservingHandler {
  return expireUnopenedReservations(createHandler({ schema }), 50);
}

const reserve = (handler: ReservingHandler, token: string) =>
  handler(new Request(URL, { method: 'PUT', headers: { 'x-graphql-event-stream-token': token } }));
const open = (handler: ReservingHandler, token: string) =>
  handler(
    new Request(URL, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'x-graphql-event-stream-token': token },
    }),
  );

describe('graphql-sse stream reservations (PUT /graphql/stream)', () => {
  let handler: ReservingHandler | undefined;
  afterEach(() => handler?.dispose());

  it('answers the reservation with its token, as graphql-sse does', async () => {
    handler = reservingHandler();
    const response = await reserve(handler, 'token-a');
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('token-a');
    expect(handler.size).toBe(1);
  });

  it('drops a reservation nobody opens: the handler forgets it and the token is free again', async () => {
    handler = reservingHandler();
    expect((await reserve(handler, 'token-b')).status).toBe(201);
    // While it is held, graphql-sse refuses the same token.
    expect((await reserve(handler, 'token-b')).status).toBe(409);
    await waitUntil(() => handler?.size === 0, 5_000, 'the reservation to expire');
    await waitUntil(
      async () => (await reserve(handler as ReservingHandler, 'token-b')).status === 201,
      5_000,
      'graphql-sse to have forgotten the stream',
    );
  });

  it('leaves an opened stream alone, and a closed one is gone as before', async () => {
    handler = reservingHandler();
    expect((await reserve(handler, 'token-c')).status).toBe(201);
    const stream = await open(handler, 'token-c');
    expect(stream.status).toBe(200);
    expect(handler.size).toBe(0);
    // Still open (only one GET per reservation): not expired under the client.
    const second = await open(handler, 'token-c');
    expect(second.status).toBe(409);
    await second.body?.cancel();
    await stream.body?.cancel();
    expect((await reserve(handler, 'token-c')).status).toBe(201);
  });

  it('counts no reservation for a refused PUT', async () => {
    handler = reservingHandler();
    const refused = await handler(
      new Request(URL, {
        method: 'PUT',
        headers: { accept: 'application/json', 'x-graphql-event-stream-token': 't' },
      }),
    );
    expect(refused.status).toBe(406);
    expect(handler.size).toBe(0);
  });
});
