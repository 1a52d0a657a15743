/**
 * Legacy processors on the same NATS network talk to streamgate unchanged: subjects are NATS
 * subjects 1:1, payloads the raw bytes (no envelope), headers NATS headers.
 */
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { subjects } from '../../src/pubsub/subjects.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { serviceUrl } from '../setup/services.ts';
import { natsBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

describe('NATS interoperability with plain NATS clients', () => {
  let broker: Broker;
  let plain: NatsConnection;
  beforeAll(async () => {
    broker = await natsBackend().connect();
    plain = await connect({ servers: serviceUrl('nats') });
  });
  afterAll(async () => {
    await broker?.close();
    await plain?.close();
  });

  it('delivers what a plain client publishes on processor.state.X, bytes and headers as sent', async () => {
    const state = uniqueSubject();
    const subscriber = await subscribed(broker.subscribe(subjects.state(null, state)));
    const sent = headers();
    sent.set('X-Origin', 'legacy-processor');
    plain.publish(subjects.state(null, state), '<<>>SOURCE<<>>', { headers: sent });
    await plain.flush();
    const message = await subscriber.messages.next();
    expect(message.subject).toBe(`processor.state.${state}`);
    expect(textOf(message)).toBe('<<>>SOURCE<<>>');
    expect(message.headers).toEqual({ 'X-Origin': 'legacy-processor' });
  });

  it('publishes the raw bytes a plain subscriber reads, with NATS headers', async () => {
    const state = uniqueSubject();
    const received = new AsyncQueue<{ data: string; origin: string | undefined; hasHeaders: boolean }>();
    plain.subscribe(subjects.state(null, state), {
      callback: (_error, message) =>
        received.push({
          data: message.string(),
          origin: message.headers?.get('X-Origin'),
          hasHeaders: message.headers !== undefined,
        }),
    });
    await plain.flush();
    await broker.publish(subjects.state(null, state), text('{"type":"query_state_entry"}'));
    await broker.publish(subjects.state(null, state), text('tokens'), {
      headers: { 'X-Origin': 'streamgate' },
    });
    expect(await received.next()).toEqual({
      data: '{"type":"query_state_entry"}',
      origin: undefined,
      hasHeaders: false,
    });
    expect(await received.next()).toEqual({ data: 'tokens', origin: 'streamgate', hasHeaders: true });
  });

  // Not on datasource.X: every streamgate instance on the network answers datasource.* (the
  // data-source requests of legacy.md A, docs/datasources.md), and test apps share this server.
  it('answers a plain NATS requester with the raw bytes of the reply', async () => {
    const subject = `interop.request.${uniqueSubject()}`;
    await broker.respond(
      subject,
      (request) => ({
        payload: text(
          JSON.stringify({ requestId: (JSON.parse(textOf(request)) as { id: string }).id, payload: [1] }),
        ),
      }),
      { queue: 'streamgate' },
    );
    const reply = await plain.request(
      subject,
      JSON.stringify({ id: 'r-1', processId: 'p', operation: 'op', payload: [] }),
      { timeout: 5_000 },
    );
    expect(reply.json()).toEqual({ requestId: 'r-1', payload: [1] });
  });

  it('reaches a plain NATS responder with a request', async () => {
    const subject = uniqueSubject();
    plain.subscribe(subject, {
      callback: (_error, message) => {
        message.respond(`pong:${message.string()}`);
      },
    });
    await plain.flush();
    const reply = await broker.request(subject, text('ping'), { timeoutMs: 5_000 });
    expect(textOf(reply)).toBe('pong:ping');
  });

  it('captures a plain client publishing on a retained subject in the window', async () => {
    const root = uniqueSubject();
    await broker.retain(`${root}.>`, { maxAgeMs: 60_000 });
    plain.publish(`${root}.a`, 'from-legacy');
    await plain.flush();
    const replay = await subscribed(broker.subscribe(`${root}.>`, { from: { after: '0' } }));
    const message = await replay.messages.next();
    expect(textOf(message)).toBe('from-legacy');
    expect(message.position).toBe('1');
  });
});
