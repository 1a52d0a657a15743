/**
 * Baseline (c) of bench/fanout.ts and bench/idle-connections.ts, the ceiling: a bare `ws`
 * server that serializes each event once and sends the same bytes to every socket that wants
 * it (one `send`, so one write, per socket and event). No GraphQL, no protocol beyond
 * "connect to /ws?device=D (or ?key=K), receive frames".
 *
 * Publishing: `POST /publish/device/{deviceId}` and `POST /publish/topic`, JSON arrays of events,
 * as bench/support/stock-yoga-server.ts. Frames look like a graphql-ws `next` so that the load
 * client reads all three servers alike.
 *
 *   PORT=0 node --import tsx bench/support/raw-ws-server.ts   → prints "LISTENING <port>"
 */
import { createServer, type IncomingMessage } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { listenAsBaseline } from './baseline-listen.ts';

const byDevice = new Map<string, Set<WebSocket>>();
const byKey = new Map<string, Set<WebSocket>>();
const sequences = new Map<string, number>();

function join(index: Map<string, Set<WebSocket>>, name: string, socket: WebSocket): void {
  let sockets = index.get(name);
  if (!sockets) {
    sockets = new Set();
    index.set(name, sockets);
  }
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}

function broadcast(sockets: Set<WebSocket> | undefined, value: unknown): void {
  if (!sockets || sockets.size === 0) return;
  // Serialized once, framed per socket by ws.
  const frame = Buffer.from(JSON.stringify({ type: 'next', payload: { data: value } }));
  for (const socket of sockets) socket.send(frame);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const httpServer = createServer((request, response) => {
  const url = request.url ?? '';
  if (request.method !== 'POST' || !url.startsWith('/publish/')) {
    response.writeHead(404).end();
    return;
  }
  readJson(request).then(
    (body) => {
      const events = body as Array<{ timestamp: string; data: unknown; key?: string }>;
      if (url === '/publish/topic') {
        for (const event of events)
          broadcast(byKey.get(event.key as string), {
            topicMessages: { key: event.key, timestamp: event.timestamp, data: event.data },
          });
      } else {
        const deviceId = decodeURIComponent(url.slice('/publish/device/'.length));
        let seq = sequences.get(deviceId) ?? 0;
        for (const event of events)
          broadcast(byDevice.get(deviceId), {
            deviceMessages: { seq: ++seq, timestamp: event.timestamp, data: event.data },
          });
        sequences.set(deviceId, seq);
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(`{"accepted":${events.length}}`);
    },
    (error: unknown) => response.writeHead(400).end(String(error)),
  );
});

const wsServer = new WebSocketServer({ server: httpServer, path: '/ws' });
wsServer.on('connection', (socket, request) => {
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
  const device = query.get('device');
  const key = query.get('key');
  if (device !== null) join(byDevice, device, socket);
  else if (key !== null) join(byKey, key, socket);
  else socket.close(4400, 'name ?device= or ?key=');
});

listenAsBaseline(httpServer, wsServer);
