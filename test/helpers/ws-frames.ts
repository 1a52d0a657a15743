import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { AsyncQueue } from './async-queue.ts';

/**
 * Hand-built WebSocket frames over a plain TCP socket, for sending what no WebSocket library
 * would: reserved opcodes, unmasked client frames, invalid UTF-8, bad close codes (RFC 6455 §5).
 *
 *   const client = await rawUpgrade(`${wsBase}/ws/stream?token=${token}`);
 *   client.write(buildFrame({ opcode: OPCODES.TEXT, payload: Buffer.from([0xff]) }));
 *   expect((await client.closed).code).toBe(1007);
 */

export const OPCODES = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  /** @default true */
  readonly fin?: boolean;
  /** @default false */
  readonly rsv1?: boolean;
  /** Clients must mask; false builds the frame a server would send. @default true */
  readonly masked?: boolean;
  /** The length written in the header, when it should differ from the payload's (an oversized claim). */
  readonly declaredLength?: number;
}

/** One WebSocket frame as bytes. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const length = spec.declaredLength ?? payload.length;
  const masked = spec.masked ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | (spec.opcode & 0x0f);
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, (masked ? 0x80 : 0) | length]);
  } else if (length < 0x10000) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let index = 0; index < body.length; index += 1)
    body[index] = (body[index] as number) ^ (mask[index % 4] as number);
  return Buffer.concat([header, mask, body]);
}

/** A close frame's payload: the code, then the reason bytes. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

/** What the server sent back on a raw connection. */
export interface RawWsConnection {
  readonly socket: Socket;
  /** Text frames from the server, in order. */
  readonly texts: AsyncQueue<string>;
  /**
   * The server's close frame as soon as it arrives (code 1005 when it carried none), or code
   * 1006 when the TCP connection ended without one.
   */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves when the TCP connection has ended. */
  readonly ended: Promise<void>;
  write(bytes: Buffer): void;
  /** A masked text frame. */
  sendText(text: string): void;
  destroy(): void;
}

/** The answer to an upgrade that was refused: status and body. */
export interface RefusedUpgrade {
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

/**
 * Performs the opening handshake by hand on a TCP socket. Resolves with the connection on 101,
 * or with the refusal (status, headers, body) on anything else.
 */
export function rawUpgrade(
  url: string,
  options: {
    protocol?: string;
    path?: string;
    /** Bytes sent in the same write as the upgrade request: frames the server reads at once. */
    early?: Buffer;
  } = {},
): Promise<RawWsConnection | RefusedUpgrade> {
  const target = new URL(url);
  // `path` carries a request target that URL would normalise (a malformed escape stays as given).
  const path = options.path ?? `${target.pathname}${target.search}`;
  const socket = connect(Number(target.port), target.hostname);
  const request = [
    `GET ${path} HTTP/1.1`,
    `Host: ${target.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...(options.protocol ? [`Sec-WebSocket-Protocol: ${options.protocol}`] : []),
    '',
    '',
  ].join('\r\n');
  socket.write(options.early ? Buffer.concat([Buffer.from(request), options.early]) : request);
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = buffered.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
      const rest = buffered.subarray(end + 4);
      socket.off('data', onData);
      socket.off('error', reject);
      socket.off('close', onEarlyClose);
      if (status !== 101) {
        let body = rest;
        socket.on('data', (more: Buffer) => {
          body = Buffer.concat([body, more]);
        });
        socket.once('close', () => resolve({ status, headers, body: body.toString('utf8') }));
        socket.on('error', () => undefined);
        return;
      }
      resolve(openConnection(socket, rest));
    };
    const onEarlyClose = () => reject(new Error(`the server closed the connection before answering ${path}`));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', onEarlyClose);
  });
}

export function isRefused(value: RawWsConnection | RefusedUpgrade): value is RefusedUpgrade {
  return 'status' in value;
}

function openConnection(socket: Socket, initial: Buffer): RawWsConnection {
  const texts = new AsyncQueue<string>();
  let closeFrame: { code: number; reason: string } | undefined;
  let onClose: (close: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    onClose = resolve;
  });
  let buffered = initial;
  let fragments: Buffer[] = [];
  const parse = () => {
    for (;;) {
      const frame = nextServerFrame(buffered);
      if (!frame) return;
      buffered = buffered.subarray(frame.size);
      if (frame.opcode === OPCODES.CLOSE) {
        closeFrame ??= {
          code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005,
          reason: frame.payload.subarray(2).toString('utf8'),
        };
        onClose(closeFrame);
      } else if (frame.opcode === OPCODES.TEXT || frame.opcode === OPCODES.CONTINUATION) {
        fragments.push(frame.payload);
        if (frame.fin) {
          texts.push(Buffer.concat(fragments).toString('utf8'));
          fragments = [];
        }
      }
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    parse();
  });
  parse();
  // The server may reset the connection after its close frame; that is not the test's error.
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) =>
    socket.once('close', () => {
      onClose(closeFrame ?? { code: 1006, reason: '' });
      resolve();
    }),
  );
  return {
    socket,
    texts,
    closed,
    ended,
    write: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    sendText: (text) => {
      if (!socket.destroyed) socket.write(buildFrame({ opcode: OPCODES.TEXT, payload: text }));
    },
    destroy: () => socket.destroy(),
  };
}

/** One complete unmasked frame at the start of `bytes`, or undefined while it is incomplete. */
function nextServerFrame(
  bytes: Buffer,
): { opcode: number; fin: boolean; payload: Buffer; size: number } | undefined {
  if (bytes.length < 2) return undefined;
  const first = bytes[0] as number;
  const second = bytes[1] as number;
  let length = second & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + length) return undefined;
  return {
    opcode: first & 0x0f,
    fin: (first & 0x80) !== 0,
    payload: bytes.subarray(offset, offset + length),
    size: offset + length,
  };
}
