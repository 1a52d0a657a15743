import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { waitUntil } from '../helpers/async-queue.ts';
import { importRecordingInChunks, uniqueDevice } from '../helpers/devices.ts';
import { capturingWebSocket } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const COUNT = 100_000;
const CHUNK = 1_000;
/** Each message carries 500 bytes of text: the whole recording is over 50 MB as strings alone. */
const TEXT = 'x'.repeat(500);
const START = Date.parse('2026-01-15T10:00:00Z');

// Retained memory is what matters, not garbage not yet collected: measure after a full GC.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
// `external` counts the Buffers of frames queued on sockets, where a replay that ignored
// backpressure would pile up.
const retainedHeap = (): number => {
  collectGarbage();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
};

function lines(from: number, count: number) {
  return Array.from({ length: count }, (_, index) => ({
    headers: { 'X-Monitor-Timestamp': new Date(START + (from + index) * 10).toISOString() },
    data: { n: from + index, text: TEXT },
  }));
}

describe('replay at speed 0 of 100,000 messages (Postgres)', () => {
  let server: TestApp;
  let id: string;
  beforeAll(async () => {
    server = await startTestApp({ database: 'postgres' });
    id = await importRecordingInChunks(server, uniqueDevice('volume'), COUNT, CHUNK, lines);
  }, 180_000);
  afterAll(() => server?.stop());

  it('streams them all in order as fast as the client reads, with bounded memory, also while the client stalls', async () => {
    const { WebSocketImpl, sockets } = capturingWebSocket();
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocketImpl,
      retryAttempts: 0,
      lazy: false,
    });
    const baseline = retainedHeap();
    const retained: number[] = [];
    let received = 0;
    let outOfOrder = 0;
    let lastProgress = 0;
    const started = performance.now();
    try {
      // Set when the subscription ends: a wait below then fails at once instead of timing out
      // (a socket closed as a slow consumer, for one, shows up here).
      let ended: Error | undefined;
      const reached = (count: number) => () => {
        if (received >= count) return true;
        if (ended) throw ended;
        return false;
      };
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe(
          {
            query: `subscription($id: ID!) { replay(recordingId: $id, speed: 0) { progress message { data } } }`,
            variables: { id },
          },
          {
            next: (result) => {
              const event = (
                result.data as { replay: { progress: number; message: { data: { n: number } } } }
              ).replay;
              if (event.message.data.n !== received) outOfOrder += 1;
              lastProgress = event.progress;
              received += 1;
            },
            error: (error: unknown) => {
              ended =
                error instanceof Error ? error : new Error(`the replay failed: ${JSON.stringify(error)}`);
              reject(ended);
            },
            complete: () => {
              ended ??= new Error('the replay completed early');
              resolve();
            },
          },
        );
      });
      // Stall the client for a while mid-stream: the server must wait for it, not read ahead and
      // queue the rest of the recording on the socket.
      await waitUntil(reached(25_000), 400_000, '25,000 replayed messages');
      retained.push(retainedHeap());
      const socket = sockets[0] as WebSocket;
      socket.pause();
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // time passing is what is tested here
      retained.push(retainedHeap());
      socket.resume();
      await waitUntil(reached(75_000), 400_000, '75,000 replayed messages');
      retained.push(retainedHeap());
      await done;
      const seconds = (performance.now() - started) / 1000;

      expect(received).toBe(COUNT);
      expect(outOfOrder).toBe(0);
      expect(lastProgress).toBe(1);
      // The recording is over 50 MB as strings alone; a paged, pulled replay retains a few pages
      // and socket buffers at any point.
      const growthMb = Math.max(...retained.map((heap) => heap - baseline)) / 1024 / 1024;
      console.log(
        `replay speed 0: ${COUNT} messages in ${seconds.toFixed(1)} s (${Math.round(COUNT / seconds)}/s); retained heap growth at most ${growthMb.toFixed(1)} MB (${retained.map((heap) => ((heap - baseline) / 1048576).toFixed(1)).join(', ')})`,
      );
      expect(growthMb).toBeLessThan(25);
    } finally {
      await client.dispose();
    }
  }, 600_000);
});
