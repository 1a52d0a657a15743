import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';

/** What of Node's TCP handle this reads (internal, so checked before every use). */
interface TcpHandle {
  readonly fd?: number;
  /** Bytes libuv holds queued for the descriptor, not yet written. */
  readonly writeQueueSize?: number;
}

/**
 * Writes `data` to a plain TCP socket: straight to its file descriptor when nothing waits ahead
 * of it, else through the stream. Returns false as `socket.write` does: the stream's queue is at
 * or past its high-water mark.
 *
 * Why: on a fan-out every member's socket is written once per tick, and through the stream each
 * write also pays Writable's bookkeeping, a WriteWrap and its async resource, a timer refresh and
 * an after-write tick, for what is one `write(2)` that the kernel takes whole. Written straight,
 * each socket of a fan-out costs 0.6–1.8 µs less of the server's CPU (docs/benchmarks.md,
 * "Writing to the descriptor").
 *
 * When it is safe, and only then:
 * - the socket is writable (not ended, not destroyed) and its handle is open: Node closes the
 *   descriptor with the handle and drops the handle at once, so an open handle's descriptor is
 *   this socket's and not one reused by another connection;
 * - nothing is queued ahead, neither in the stream (`writableLength`, cork) nor in libuv
 *   (`writeQueueSize`): the bytes go out in the order they were given;
 * - it is a TCP socket (a descriptor; never TLS, whose bytes must be encrypted by the stream).
 * The descriptor is non-blocking: what the kernel does not take (a full buffer, EAGAIN) and any
 * error (a peer gone: EPIPE, ECONNRESET) go to the stream, which queues the rest or reports the
 * error as it would have. The bytes written straight are not counted in `socket.bytesWritten`,
 * and they do not refresh an idle timeout (`ws` turns it off on its sockets).
 */
export function writeToSocket(socket: Socket, data: Buffer): boolean {
  const handle = (socket as unknown as { _handle: TcpHandle | null })._handle;
  if (
    handle &&
    handle.writeQueueSize === 0 &&
    socket.writableLength === 0 &&
    socket.writableCorked === 0 &&
    socket.writable &&
    !(socket as { encrypted?: boolean }).encrypted
  ) {
    const fd = handle.fd;
    if (typeof fd === 'number' && fd >= 0) {
      let written = 0;
      try {
        written = writeSync(fd, data);
      } catch {
        // EAGAIN (the kernel's buffer is full) or the peer is gone: the stream takes it from here.
      }
      if (written === data.length) return true;
      return socket.write(written === 0 ? data : data.subarray(written));
    }
  }
  return socket.write(data);
}
