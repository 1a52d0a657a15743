import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { waitUntil } from '../helpers/async-queue.ts';
import { importRecordingInChunks, uniqueDevice } from '../helpers/devices.ts';
import { capturingWebSocket } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/** Messages per import request: under MAX_PAYLOAD_BYTES (1 MiB). */
const CHUNK = 300;
const REPLAY = `subscription($id: ID!) { replay(recordingId: $id, speed: 0) { progress message { data } } }`;
const COUNT = 6_000;
/**
 * 2 KB a message: one page of the replay (500 messages) is about 1 MB, 16 × MAX_CLIENT_BUFFER,
 * and the recording (12 MB) more than the kernel's socket buffers hold while the client stalls.
 */
const TEXT = 'y'.repeat(2_000);
const START = Date.parse('2026-01-15T10:00:00Z');

describe('replay at speed 0 with a small MAX_CLIENT_BUFFER (64 KiB)', () => {
  let server: TestApp;
  let id: string;
  beforeAll(async () => {
    server = await startTestApp({ database: 'postgres', env: { MAX_CLIENT_BUFFER: '64kib' } });
    const lines = (from: number, count: number) =>
      Array.from({ length: count }, (_, index) => ({
        headers: { 'X-Monitor-Timestamp': new Date(START + from + index).toISOString() },
        data: { n: from + index, text: TEXT },
      }));
    id = await importRecordingInChunks(server, uniqueDevice('paced'), COUNT, CHUNK, lines);
  }, 60_000);
  afterAll(() => server?.stop());

  it('sends a page no faster than the client reads: every message arrives after a stall, the socket is never cut as a slow consumer', async () => {
    const { WebSocketImpl, sockets } = capturingWebSocket();
    const closes: number[] = [];
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocketImpl,
      retryAttempts: 0,
      lazy: false,
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    try {
      const received: Array<{ n: number; text: string; progress: number }> = [];
      let failed: unknown;
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe(
          { query: REPLAY, variables: { id } },
          {
            next: (result) => {
              const event = (
                result.data as {
                  replay: { progress: number; message: { data: { n: number; text: string } } };
                }
              ).replay;
              received.push({ ...event.message.data, progress: event.progress });
            },
            error: (error: unknown) => {
              failed = error;
              reject(new Error(`the replay failed: ${JSON.stringify(error)}`));
            },
            complete: resolve,
          },
        );
      });
      await waitUntil(
        () => {
          if (failed) throw new Error('the replay failed');
          return received.length >= 100;
        },
        30_000,
        'the first 100 messages',
      );
      // The client stops reading: the kernel's buffers fill, then the server's must stay low.
      const socket = sockets[0] as WebSocket;
      socket.pause();
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // time passing is what is tested here
      socket.resume();
      await done;
      expect(received.map((event) => event.n)).toEqual(Array.from({ length: COUNT }, (_, index) => index));
      expect(received.every((event) => event.text === TEXT)).toBe(true);
      expect(received.at(-1)?.progress).toBe(1);
      expect(closes).toEqual([]);
    } finally {
      await client.dispose();
    }
  }, 120_000);

  it('over GraphQL over SSE too: every message arrives after a stall, the stream is never cut as a slow consumer', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: REPLAY, variables: { id } }),
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const received: number[] = [];
    const others: string[] = [];
    let buffer = '';
    let stalled = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary = buffer.indexOf('\n\n');
      while (boundary >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
        if (event === 'next') {
          const result = JSON.parse(data) as { data: { replay: { message: { data: { n: number } } } } };
          received.push(result.data.replay.message.data.n);
        } else if (event !== undefined) others.push(`${event} ${data.slice(0, 200)}`);
      }
      if (!stalled && received.length >= 100) {
        // The client stops reading: the kernel's buffers fill, then the server's must stay low.
        stalled = true;
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // time passing is what is tested here
      }
    }
    expect(others).toEqual(['complete ']);
    expect(received).toEqual(Array.from({ length: COUNT }, (_, index) => index));
  }, 120_000);
});
