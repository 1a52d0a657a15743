import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { decodeRouteParams, MALFORMED_PATH_MESSAGE } from './http-routes.ts';
import { guardSocket, guardUpgradeSocket, refuseUpgrade } from './socket-guard.ts';

/** A WebSocket endpoint: /graphql (graphql-ws) and the legacy raw-WebSocket routes. */
export interface UpgradeRoute {
  /** A path with `:name` parameters, e.g. "/ws/stream/:state". */
  readonly path: string;
  readonly server: WebSocketServer;
  /**
   * The WebSocket subprotocols the route speaks: an upgrade offering none of them (or none at
   * all) is refused with 400 and a JSON body naming them, instead of a 101 and a close the
   * client could not explain. Unset: any or none.
   */
  readonly subprotocols?: readonly string[];
}

/**
 * Routes HTTP upgrades by path to the WebSocket server of that route; anything else is answered
 * 404 and closed, so a stray upgrade never hangs, and a path with a malformed percent-escape is
 * answered 400. Every socket gets its 'error' handler (socket-guard.ts) the moment it exists,
 * before any route code or authentication runs: no client's bytes can stop the process.
 */
export function routeUpgrades(
  httpServer: Server,
  routes: readonly UpgradeRoute[],
  options: { readonly log: Logger; readonly metrics: Metrics },
): void {
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
    guardUpgradeSocket(socket, options.log);
    const pathname = pathnameOf(request.url);
    if (pathname === undefined) {
      refuseUpgrade(socket, 400, 'the request target is not a valid URL');
      return;
    }
    for (const { route, pattern, names } of compiled) {
      const match = pattern.exec(pathname);
      if (!match) continue;
      const params = decodeRouteParams(names, match);
      if (params === undefined) {
        refuseUpgrade(socket, 400, MALFORMED_PATH_MESSAGE);
        return;
      }
      if (route.subprotocols && !offersAny(request, route.subprotocols)) {
        refuseUpgrade(socket, 400, unsupportedSubprotocolMessage(request, pathname, route.subprotocols), {
          subprotocols: route.subprotocols,
        });
        return;
      }
      route.server.handleUpgrade(request, socket, head, (webSocket) => {
        guardSocket(webSocket, route.path, options);
        route.server.emit('connection', webSocket, request, params);
      });
      return;
    }
    refuseUpgrade(socket, 404, `no WebSocket route at ${pathname}`);
  });
}

/** The subprotocols a client offers in Sec-WebSocket-Protocol (a comma-separated list). */
function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function offersAny(request: IncomingMessage, supported: readonly string[]): boolean {
  return offeredSubprotocols(request).some((name) => supported.includes(name));
}

function unsupportedSubprotocolMessage(
  request: IncomingMessage,
  pathname: string,
  supported: readonly string[],
): string {
  const offered = offeredSubprotocols(request);
  const asked =
    offered.length === 0
      ? 'no Sec-WebSocket-Protocol'
      : `Sec-WebSocket-Protocol ${offered.map((name) => JSON.stringify(name.slice(0, 64))).join(', ')}`;
  return `${pathname} speaks the WebSocket subprotocols ${supported.map((name) => JSON.stringify(name)).join(', ')}; the request offered ${asked}`;
}

function pathnameOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}
