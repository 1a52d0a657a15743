import type { WebSocket } from 'ws';
import { pollUntil } from './delivery/poll-until.ts';

/**
 * Undefined when the socket holds at most `lowWaterBytes` unsent (or is no longer open), else a
 * promise that resolves once it does. For streams that may go only as fast as the client reads
 * (replay at speed 0): they check here before each message instead of filling the socket until
 * MAX_CLIENT_BUFFER closes it, and allocate nothing while the client keeps up. ws has no drain
 * event of its own, so a congested socket is polled; an idle one costs nothing.
 */
export function whenWritable(socket: WebSocket, lowWaterBytes: number): Promise<void> | undefined {
  return pollUntil(() => socket.readyState !== socket.OPEN || socket.bufferedAmount <= lowWaterBytes);
}

/**
 * The unsent bytes under which a paced stream sends on: a quarter of MAX_CLIENT_BUFFER, past
 * which a socket is closed as a slow consumer, so one more message never comes near the limit.
 */
export function lowWaterBytes(maxClientBufferBytes: number): number {
  return Math.floor(maxClientBufferBytes / 4);
}
