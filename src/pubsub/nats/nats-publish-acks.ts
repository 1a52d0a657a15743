/**
 * JetStream publishes of a batch, pipelined: each message goes out as a plain PUB whose reply
 * subject lies under one inbox of this connection, and JetStream's acks (`{"stream":…,"seq":…}`)
 * come back there; the batch waits for all of them together, under one timer. nats.js's
 * `js.publish` is one request per message (a timer, a promise, a mux entry and, for async
 * stack traces, two Error objects each): in the profile of a NATS ingest of 1,000-event batches
 * that bookkeeping and its garbage were most of the server's CPU.
 *
 * An ack means what it means for `js.publish`: the stream stored the message.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';

/** How JetStream answered one message. */
export type AckResult =
  | { readonly kind: 'stored'; readonly seq: number }
  /** Nobody answered the subject (its stream is gone). */
  | { readonly kind: 'no-stream' }
  | { readonly kind: 'error'; readonly message: string }
  /** The client did not send it (too large, connection closed). */
  | { readonly kind: 'refused'; readonly error: unknown }
  /** No answer within the timeout (the connection dropped, or the server is overloaded). */
  | { readonly kind: 'timeout' };

interface Batch {
  readonly results: Array<AckResult | undefined>;
  waiting: number;
  finish(): void;
}

/** What one message of a batch carries. */
export interface StreamPublish {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

export class JetStreamAcks {
  private readonly prefix = `${createInbox()}.`;
  private readonly batches = new Map<number, Batch>();
  private nextBatch = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    // Before any PUB on this connection, so the server has it when the first ack is sent.
    nc.subscribe(`${this.prefix}>`, {
      callback: (error, message) => {
        // An error ends the subscription (connection closed): what waits then times out.
        if (!error) this.settle(message);
      },
    });
  }

  /**
   * Publishes every message (in order, on this connection) and resolves with JetStream's answer
   * to each, in the same order, once all arrived or the timeout passed.
   */
  publish(messages: readonly StreamPublish[]): Promise<AckResult[]> {
    const id = this.nextBatch++;
    const results: Array<AckResult | undefined> = new Array(messages.length);
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const batch: Batch = { results, waiting: 0, finish };
    this.batches.set(id, batch);
    const replyPrefix = `${this.prefix}${id}.`;
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index] as StreamPublish;
      try {
        this.nc.publish(message.subject, message.payload, {
          headers: message.headers,
          reply: `${replyPrefix}${index}`,
        });
        batch.waiting += 1;
      } catch (error) {
        results[index] = { kind: 'refused', error };
      }
    }
    if (batch.waiting === 0) finish();
    const timer = setTimeout(finish, this.timeoutMs);
    return done.then(() => {
      clearTimeout(timer);
      this.batches.delete(id);
      for (let index = 0; index < results.length; index++) results[index] ??= { kind: 'timeout' };
      return results as AckResult[];
    });
  }

  private settle(message: Msg): void {
    const [batchId, index] = message.subject.slice(this.prefix.length).split('.');
    const batch = this.batches.get(Number(batchId));
    const slot = Number(index);
    if (!batch || batch.results[slot] !== undefined) return;
    batch.results[slot] = ackResultOf(message);
    batch.waiting -= 1;
    if (batch.waiting === 0) batch.finish();
  }
}

function ackResultOf(message: Msg): AckResult {
  if (message.data.length === 0 && message.headers?.code === 503) return { kind: 'no-stream' };
  try {
    const ack = JSON.parse(message.string()) as {
      seq?: number;
      error?: { description?: string; code?: number };
    };
    if (ack.error) return { kind: 'error', message: ack.error.description ?? `error ${ack.error.code}` };
    if (typeof ack.seq === 'number') return { kind: 'stored', seq: ack.seq };
  } catch {
    // Not JSON: reported below.
  }
  return { kind: 'error', message: `unexpected JetStream answer: ${message.string().slice(0, 200)}` };
}
