import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { RouteParams } from './http-routes.ts';

/** A WebSocket endpoint: /graphql (graphql-ws) and the legacy raw-WebSocket routes. */
export interface UpgradeRoute {
  /** A path with `:name` parameters, e.g. "/ws/stream/:state". */
  readonly path: string;
  readonly server: WebSocketServer;
}

/**
 * Routes HTTP upgrades by path to the WebSocket server of that route; anything else is answered
 * 404 and closed, so a stray upgrade never hangs.
 */
export function routeUpgrades(httpServer: Server, routes: readonly UpgradeRoute[]): void {
  const compiled = routes.map((route) => {
    const names: string[] = [];
    const source = route.path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment;
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    return { route, pattern: new RegExp(`^${source}/?$`), names };
  });

  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    for (const { route, pattern, names } of compiled) {
      const match = pattern.exec(pathname);
      if (!match) continue;
      const params: RouteParams = Object.fromEntries(
        names.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]),
      );
      route.server.handleUpgrade(request, socket, head, (webSocket) => {
        route.server.emit('connection', webSocket, request, params);
      });
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
}
