import type { IncomingMessage } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { CLOSE_CODES, closeReason } from './close-codes.ts';
import { GRAPHQL_WS_SUBPROTOCOL, GraphqlWsConnection } from './graphql-ws.ts';
import { ApolloConnection } from './legacy-apollo/apollo-connection.ts';
import { APOLLO_SUBPROTOCOL } from './legacy-apollo/message-types.ts';
import type { OperationSocketOptions } from './operation-socket.ts';
import { SocketCore } from './socket-core.ts';

/**
 * The WebSocket subprotocols /graphql speaks, in the order it prefers them: graphql-ws's
 * `graphql-transport-ws`, then the old Apollo protocol's `graphql-ws`. An upgrade that offers
 * neither is refused in the handshake (upgrade-router.ts), so the client sees why.
 */
export const GRAPHQL_SUBPROTOCOLS = [GRAPHQL_WS_SUBPROTOCOL, APOLLO_SUBPROTOCOL] as const;

/** graphql-ws's close code for a subprotocol it does not speak. */
const SUBPROTOCOL_NOT_ACCEPTABLE = 4406;

/**
 * The WebSocket side of /graphql: one server and one socket core (one keep-alive timer, one
 * per-tick flush) for both protocols, so MAX_WS_CONNECTIONS counts them together; each socket
 * gets the connection of the subprotocol the handshake agreed on.
 */
export function createGraphqlSocketServer(options: OperationSocketOptions): {
  server: WebSocketServer;
  dispose(): Promise<void>;
} {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    handleProtocols: (offered: Set<string>) =>
      GRAPHQL_SUBPROTOCOLS.find((protocol) => offered.has(protocol)) ?? false,
  });
  const core = new SocketCore({
    maxBufferedBytes: options.limits.maxClientBufferBytes,
    messageRate: options.limits.messageRate,
    messageBurst: options.limits.messageBurst,
    keepAliveMs: options.keepAliveMs,
    onSlowConsumer: (buffered) => {
      options.onRefused('MAX_CLIENT_BUFFER');
      options.log.warn({ buffered }, '/graphql WebSocket slow consumer closed');
    },
  });
  server.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    if (server.clients.size > options.limits.maxWsConnections) {
      options.onRefused('MAX_WS_CONNECTIONS');
      ws.close(
        CLOSE_CODES.LIMIT_EXCEEDED,
        closeReason(
          `LIMIT_EXCEEDED: the server holds its maximum of ${options.limits.maxWsConnections} WebSocket connections`,
        ),
      );
      return;
    }
    // The upgrade request is read here, once, and not retained: a connection holds only its socket.
    const authorization = request.headers.authorization;
    if (ws.protocol === GRAPHQL_WS_SUBPROTOCOL)
      new GraphqlWsConnection(core.attach(ws), authorization, options);
    else if (ws.protocol === APOLLO_SUBPROTOCOL)
      new ApolloConnection(core.attach(ws), authorization, options);
    // Only when the route was mounted without its subprotocol check.
    else ws.close(SUBPROTOCOL_NOT_ACCEPTABLE, 'Subprotocol not acceptable');
  });
  return {
    server,
    async dispose() {
      core.flush();
      for (const client of server.clients) client.close(CLOSE_CODES.GOING_AWAY, 'Going away');
      core.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
