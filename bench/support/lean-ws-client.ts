/**
 * A minimal WebSocket client (RFC 6455) for the load client of the benchmarks: one TCP socket
 * whose incoming bytes are read straight into one buffer shared by every socket (`net`'s
 * `onread`, no stream machinery, no per-chunk Buffer) and cut into frames in place; text frames
 * and binary messages are handed over as (buffer, start, end) with the time their chunk arrived. No per-frame objects,
 * no decoding unless the caller decodes. It answers pings and closes, masks what it sends, and
 * refuses what the benchmark's servers never send (fragmented or masked frames), so a
 * change on the server that starts sending them fails the run instead of skewing it.
 *
 * Why not `ws`: one process on one core reads every subscriber's frames, and with `ws` (a
 * Readable per socket, a Buffer and an event per frame) its own queueing was most of the
 * publish-to-client latency it measured (docs/benchmarks.md, "Quiet run").
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** What a socket tells its owner. Called synchronously while the shared buffer holds the bytes. */
export interface LeanSocketHandlers {
  /** The upgrade was accepted: called before any frame that came with the response is read. */
  onOpen(socket: LeanSocket): void;
  /**
   * One message (a text frame, or a binary one: the raw ws baseline sends Buffers): bytes
   * `start`..`end` of `data`, valid only during the call (the buffer is reused for the next
   * read). `receivedAt` is performance.now() when its chunk was read.
   */
  onMessage(data: Buffer, start: number, end: number, receivedAt: number): void;
  /** The server closed (close frame, or the TCP connection ended without one: code 1006). */
  onClose(code: number, reason: string): void;
  onError(error: Error): void;
}

/** The read buffer every lean socket shares: reads run one at a time on this thread. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const HEADER_END = Buffer.from('\r\n\r\n');

const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** An open lean WebSocket. */
export class LeanSocket {
  private pending: Buffer | undefined;
  private closing = false;
  private closed = false;
  private readonly ended: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly handlers: LeanSocketHandlers,
  ) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.finish(1006, 'connection lost'));
    socket.on('error', (error) => {
      if (!this.closing) handlers.onError(error);
    });
  }

  /** Sends one text frame (masked, as a client must). */
  send(text: string): void {
    this.sendFrame(OPCODE.text, Buffer.from(text, 'utf8'));
  }

  /** Sends a close frame and waits until the server has closed the connection (5 s at most). */
  async close(code = 1000): Promise<void> {
    if (!this.closing && !this.closed) {
      this.closing = true;
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code, 0);
      this.sendFrame(OPCODE.close, payload);
    }
    const timer = setTimeout(() => this.socket.destroy(), 5_000);
    await this.ended;
    clearTimeout(timer);
  }

  /** @internal Bytes read from the socket after the handshake (the first `size` bytes of `chunk`). */
  read(chunk: Buffer, size: number, receivedAt: number): void {
    let data = chunk;
    let end = size;
    if (this.pending) {
      // A frame split across reads (rare: reads are up to 256 KB, frames a few hundred bytes).
      data = Buffer.concat([this.pending, chunk.subarray(0, size)]);
      end = data.length;
      this.pending = undefined;
    }
    let at = 0;
    while (end - at >= 2) {
      const first = data[at] as number;
      const second = data[at + 1] as number;
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (end - at < 4) break;
        length = data.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (end - at < 10) break;
        length = data.readUInt32BE(at + 2) * 0x100000000 + data.readUInt32BE(at + 6);
        header = 10;
      }
      if (end - at < header + length) break;
      const start = at + header;
      at = start + length;
      if ((second & 0x80) !== 0) {
        this.fail('the server sent a masked frame');
        return;
      }
      const opcode = first & 0x0f;
      const fin = (first & 0x80) !== 0;
      if ((opcode === OPCODE.text || opcode === OPCODE.binary) && fin)
        this.handlers.onMessage(data, start, start + length, receivedAt);
      else if (opcode === OPCODE.ping) this.sendFrame(OPCODE.pong, data.subarray(start, start + length));
      else if (opcode === OPCODE.close) this.onCloseFrame(data.subarray(start, start + length));
      else if (opcode !== OPCODE.pong)
        this.fail(`unexpected frame: opcode ${opcode}${fin ? '' : ', not final'}`);
      if (this.closed) return;
    }
    // Copied: `chunk` is the shared read buffer, overwritten by the next read of any socket.
    if (at < end) this.pending = Buffer.from(data.subarray(at, end));
  }

  private onCloseFrame(payload: Buffer): void {
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    const reason = payload.subarray(2).toString('utf8');
    if (!this.closing) {
      this.closing = true;
      this.sendFrame(OPCODE.close, payload.subarray(0, Math.min(2, payload.length)));
    }
    this.socket.end();
    this.finish(code, reason);
  }

  private fail(message: string): void {
    this.handlers.onError(new Error(message));
    this.closing = true;
    this.socket.destroy();
    this.finish(1002, message);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose(code, reason);
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const length = payload.length;
    const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
    const frame = Buffer.allocUnsafe(header + 4 + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) frame[1] = 0x80 | length;
    else if (length < 0x10000) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
      frame.writeUInt32BE(length >>> 0, 6);
    }
    const mask = randomBytes(4);
    mask.copy(frame, header);
    for (let index = 0; index < length; index++)
      frame[header + 4 + index] = (payload[index] as number) ^ (mask[index & 3] as number);
    this.socket.write(frame);
  }
}

/**
 * Opens a WebSocket to `url` (ws://host:port/path?query) offering `protocol`, and resolves once
 * the server has accepted the upgrade (101 with the right `Sec-WebSocket-Accept`); `onOpen` is
 * called then too, synchronously, before any frame is handed over.
 */
export function connectLean(
  url: string,
  protocol: string | undefined,
  handlers: LeanSocketHandlers,
): Promise<LeanSocket> {
  const target = new URL(url);
  if (target.protocol !== 'ws:') throw new Error(`lean WebSocket client: only ws:// URLs (${url})`);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(`${key}${ACCEPT_GUID}`).digest('base64');
  return new Promise((resolve, reject) => {
    let lean: LeanSocket | undefined;
    let response: Buffer | undefined;
    const socket = connect({
      host: target.hostname,
      port: Number(target.port || 80),
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        // The bytes are in READ_BUFFER (the callback's second argument, typed as a Uint8Array).
        callback: (length) => {
          const receivedAt = performance.now();
          if (lean) {
            lean.read(READ_BUFFER, length, receivedAt);
            return true;
          }
          // The handshake's response; frames may follow it in the same read.
          response = Buffer.concat([response ?? Buffer.alloc(0), READ_BUFFER.subarray(0, length)]);
          const headerEnd = response.indexOf(HEADER_END);
          if (headerEnd < 0) return true;
          const head = response.subarray(0, headerEnd).toString('latin1');
          const status = head.slice(0, head.indexOf('\r\n'));
          const accepted = new RegExp(`^sec-websocket-accept: *${escapeRegExp(accept)} *$`, 'im').test(head);
          const chosen = /^sec-websocket-protocol: *(\S*) *$/im.exec(head)?.[1];
          const refusal = !/^HTTP\/1\.1 101 /.test(status)
            ? `refused: ${status}`
            : !accepted
              ? 'answered a wrong Sec-WebSocket-Accept'
              : chosen !== protocol
                ? `chose subprotocol ${chosen ?? '(none)'}, offered ${protocol ?? '(none)'}`
                : undefined;
          if (refusal) {
            socket.destroy();
            reject(new Error(`WebSocket upgrade of ${url} ${refusal}`));
            return false;
          }
          lean = new LeanSocket(socket, handlers);
          resolve(lean);
          handlers.onOpen(lean);
          const rest = response.subarray(headerEnd + HEADER_END.length);
          response = undefined;
          if (rest.length > 0) lean.read(rest, rest.length, receivedAt);
          return true;
        },
      },
    });
    socket.once('connect', () => {
      socket.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
          `Host: ${target.host}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
          '\r\n',
      );
    });
    socket.once('error', (error) => {
      if (!lean) reject(error);
    });
    socket.once('close', () => {
      if (!lean) reject(new Error(`WebSocket upgrade of ${url}: connection closed`));
    });
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
