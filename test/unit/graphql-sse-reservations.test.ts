import { afterEach, describe, expect, it } from 'vitest';
import { StreamReservations } from '../../src/server/graphql-sse/stream-reservations.ts';
import { EventStreams } from '../../src/server/sse/event-stream.ts';
import { waitUntil } from '../helpers/async-queue.ts';

/** The reservations of /graphql/stream, expiring after 50 ms instead of 30 s. */
function reservationsFor(streams: EventStreams): StreamReservations {
  return new StreamReservations(streams, 50);
}

async function readText(body: ReadableStream<Uint8Array>, until: string): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(until)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

describe('graphql-sse stream reservations (PUT /graphql/stream)', () => {
  let streams: EventStreams;
  let reservations: StreamReservations;
  afterEach(() => {
    reservations?.dispose();
    streams?.dispose();
  });

  it('holds a token once: a second reservation of it is refused while an operation runs on it', () => {
    streams = new EventStreams({ maxBufferedBytes: 1 << 20 });
    reservations = reservationsFor(streams);
    const first = reservations.reserve('token-a');
    expect(first?.token).toBe('token-a');
    first?.operations.set('op-1', {});
    expect(reservations.reserve('token-a')).toBeUndefined();
    expect(reservations.get('token-a')).toBe(first);
    expect(reservations.waiting).toBe(1);
  });

  it('replaces an idle stream of the same token: its client came back with it (graphql-sse, lazy)', async () => {
    streams = new EventStreams({ maxBufferedBytes: 1 << 20 });
    reservations = reservationsFor(streams);
    const first = reservations.reserve('token-r');
    if (!first) throw new Error('not reserved');
    const opened = first.open(undefined);
    first.operations.set('done', {});
    first.ended('done', first.operations.get('done') as object);
    const second = reservations.reserve('token-r');
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(reservations.get('token-r')).toBe(second);
    // The old stream ended (its body finishes), and its late close takes nothing of the new one.
    const reader = opened.body.getReader();
    while (!(await reader.read()).done);
    expect(reservations.get('token-r')).toBe(second);
    expect(reservations.size).toBe(1);
  });

  it('drops a reservation nobody opens: the token is free again and nothing stays behind', async () => {
    streams = new EventStreams({ maxBufferedBytes: 1 << 20 });
    reservations = reservationsFor(streams);
    const reserved = reservations.reserve('token-b');
    // An operation started before the GET wrote on the stream; it goes with the reservation.
    reserved?.events().send('event: next\ndata: {"id":"1","payload":{}}\n\n');
    expect(streams.size).toBe(1);
    await waitUntil(() => reservations.size === 0, 5_000, 'the reservation to expire');
    expect(streams.size).toBe(0);
    expect(reservations.reserve('token-b')).toBeDefined();
  });

  it('leaves an opened stream alone; what operations sent before the GET comes first; a closed one is gone', async () => {
    streams = new EventStreams({ maxBufferedBytes: 1 << 20 });
    reservations = reservationsFor(streams);
    const reserved = reservations.reserve('token-c');
    if (!reserved) throw new Error('not reserved');
    reserved.events().send('event: next\ndata: {"id":"early","payload":{"data":{}}}\n\n');
    streams.flush();
    const stream = reserved.open(undefined);
    expect(reserved.isOpen).toBe(true);
    expect(reservations.waiting).toBe(0);
    expect(await readText(stream.body, '"early"')).toContain('data: {"id":"early"');
    // Well past the time-out: still there, under its client.
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(reservations.get('token-c')).toBe(reserved);
    await stream.body.cancel();
    expect(reservations.get('token-c')).toBeUndefined();
    expect(streams.size).toBe(0);
    expect(reservations.reserve('token-c')).toBeDefined();
  });
});
