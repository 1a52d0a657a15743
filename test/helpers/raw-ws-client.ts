import WebSocket from 'ws';
import { AsyncQueue } from './async-queue.ts';

/** A raw `ws` client of a legacy WebSocket route: text frames and the close as queues. */
export interface RawWsClient {
  readonly socket: WebSocket;
  /** Text frames received, in order. */
  readonly frames: AsyncQueue<string>;
  /** The close (code and reason), once. */
  readonly closes: AsyncQueue<{ code: number; reason: string }>;
  send(frame: string | Record<string, unknown>): void;
  /** The next frame, parsed as JSON. */
  nextJson<T = Record<string, unknown>>(timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * Opens a raw WebSocket and resolves once it is open. `autoPong: false` makes a peer that never
 * answers pings, as a dead client would; `protocol` is the subprotocol it asks for.
 */
export async function connectRaw(
  url: string,
  options: { autoPong?: boolean; protocol?: string } = {},
): Promise<RawWsClient> {
  const socket = new WebSocket(url, options.protocol === undefined ? [] : [options.protocol], {
    autoPong: options.autoPong ?? true,
  });
  const frames = new AsyncQueue<string>();
  const closes = new AsyncQueue<{ code: number; reason: string }>();
  socket.on('message', (data, isBinary) => {
    if (!isBinary) frames.push(data.toString());
  });
  socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    frames,
    closes,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    async nextJson<T>(timeoutMs = 5_000, what = 'the next frame') {
      return JSON.parse(await frames.next(timeoutMs, what)) as T;
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.close();
      await closed;
    },
  };
}
