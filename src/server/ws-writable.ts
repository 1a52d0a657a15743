import type { WebSocket } from 'ws';

/** @default 10 ms: how often a congested socket is looked at again. */
const POLL_MS = 10;

/**
 * Resolves once the socket holds at most `lowWaterBytes` unsent (or is no longer open). For
 * streams that may go only as fast as the client reads (replay at speed 0): they wait here
 * before each message instead of filling the socket until MAX_CLIENT_BUFFER closes it.
 * ws has no drain event of its own, so a congested socket is polled; an idle one costs nothing.
 */
export function whenWritable(socket: WebSocket, lowWaterBytes: number): Promise<void> {
  const ready = () => socket.readyState !== socket.OPEN || socket.bufferedAmount <= lowWaterBytes;
  if (ready()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!ready()) return;
      clearInterval(timer);
      resolve();
    }, POLL_MS);
  });
}
