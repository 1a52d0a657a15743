import { closeReason } from '../close-codes.ts';

/**
 * Outbound queues bounded in bytes (DESIGN.md decision 5, MAX_CLIENT_BUFFER). A client that
 * does not read is closed once that much waits for it, instead of making the server hold more;
 * nothing upstream ever waits for one client, so others on the same stream are unaffected.
 * WebSockets have theirs in the socket core (socket-core.ts); this is for SSE bodies.
 */

export interface SlowConsumerOptions {
  /** Bytes that may wait unsent (MAX_CLIENT_BUFFER). */
  readonly maxBufferedBytes: number;
  /** Called once, when the client is cut off (count it in metrics, log it). */
  readonly onSlowConsumer?: (bufferedBytes: number) => void;
}

/** The reason text of a slow-consumer close. */
export function slowConsumerReason(maxBufferedBytes: number): string {
  return closeReason(`LIMIT_EXCEEDED: slow consumer: more than ${maxBufferedBytes} bytes waiting to be sent`);
}

/** A text stream for a Response body whose unsent bytes are bounded (SSE). */
export interface BoundedTextStream {
  readonly stream: ReadableStream<Uint8Array>;
  /** Queues text; false when the stream has ended (closed, cancelled, or cut off as slow). */
  push(text: string): boolean;
  /** Ends the stream after what is queued. */
  close(): void;
  /** Resolves when the stream ends for any reason. */
  readonly ended: Promise<void>;
}

/**
 * For SSE responses built by hand (the legacy SSE adapter): text pushed here waits in the
 * stream's queue until the HTTP layer takes it (it only takes what the socket accepts); past
 * `maxBufferedBytes` the stream is ended as a slow consumer.
 */
export function createBoundedTextStream(options: SlowConsumerOptions): BoundedTextStream {
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let done = false;
  let resolveEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => {
    resolveEnded = resolve;
  });
  const finish = () => {
    if (done) return;
    done = true;
    resolveEnded();
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(streamController) {
        controller = streamController;
      },
      cancel() {
        finish();
      },
    },
    { highWaterMark: options.maxBufferedBytes, size: (chunk) => chunk.byteLength },
  );
  return {
    stream,
    ended,
    push(text) {
      if (done || !controller) return false;
      controller.enqueue(encoder.encode(text));
      const desired = controller.desiredSize ?? 0;
      if (desired >= 0) return true;
      options.onSlowConsumer?.(options.maxBufferedBytes - desired);
      controller.error(new Error('slow consumer'));
      finish();
      return false;
    },
    close() {
      if (done) return;
      controller?.close();
      finish();
    },
  };
}
