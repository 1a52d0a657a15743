import type { Server } from 'node:http';
import type { WebSocketServer } from 'ws';

/**
 * How a baseline server of bench/support/ starts and stops: it listens on PORT (any when unset)
 * on loopback and prints `LISTENING <port>` for bench-targets.ts, and SIGTERM cuts its sockets
 * and exits once the HTTP server is closed.
 */
export function listenAsBaseline(httpServer: Server, wsServer: WebSocketServer): void {
  httpServer.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = httpServer.address();
    process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : ''}\n`);
  });
  process.on('SIGTERM', () => {
    for (const client of wsServer.clients) client.terminate();
    httpServer.close(() => process.exit(0));
  });
}
