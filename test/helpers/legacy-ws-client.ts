import WebSocket from 'ws';
import { AsyncQueue } from './async-queue.ts';

/** A raw WebSocket client of the legacy `/ws/stream` protocol: parsed frames and the close event. */
export interface LegacySocket {
  readonly socket: WebSocket;
  readonly frames: AsyncQueue<Record<string, unknown>>;
  readonly closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** The next frame of this `type`, skipping others (e.g. data while waiting for a reply). */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function connectLegacy(url: string): Promise<LegacySocket> {
  const socket = new WebSocket(url);
  const frames = new AsyncQueue<Record<string, unknown>>();
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const skipped: Array<Record<string, unknown>> = [];
  return {
    socket,
    frames,
    closed,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    async next(type, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = await frames.next(Math.max(1, deadline - Date.now()), `a "${type}" frame`);
        if (frame.type === type) return frame;
        skipped.push(frame);
      }
    },
    async close() {
      if (socket.readyState === WebSocket.OPEN) socket.close();
      await closed;
    },
  };
}
