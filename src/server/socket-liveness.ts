import type { WebSocket } from 'ws';

/**
 * Pings the socket every `intervalMs`; one that has not answered the previous ping by then is
 * terminated, so a dead peer is noticed without waiting for the next write to fail. Stops by
 * itself when the socket closes.
 */
export function keepAlive(socket: WebSocket, intervalMs: number): void {
  let alive = true;
  const markAlive = () => {
    alive = true;
  };
  const timer = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, intervalMs);
  socket.on('pong', markAlive);
  socket.once('close', () => {
    clearInterval(timer);
    socket.off('pong', markAlive);
  });
}
