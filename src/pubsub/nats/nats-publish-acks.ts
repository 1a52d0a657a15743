/**
 * JetStream publishes of a batch, pipelined: the messages go out as plain PUBs written in one
 * buffer (nats-wire-batch.ts), JetStream's acks (`{"stream":…,"seq":…}`) come back under one
 * inbox of this connection, and the batch waits for them together, under one timer. nats.js's
 * `js.publish` is one request per message (a timer, a promise, a mux entry and two Error
 * objects each).
 *
 * **Chained batches.** An ack per message was still half the cost of a batch, on both sides:
 * nats-server sends each ack as a message of its own (≈ 5 µs of its CPU per message on the
 * 2-core bench machine), and the client parses it, makes a Msg and settles a slot (≈ 5 µs).
 * So the messages of a batch that go to one stream of ours are chained, and only the last one
 * asks for an ack: each carries a unique `Nats-Msg-Id`, and each after the first
 * `Nats-Expected-Last-Msg-Id` naming its predecessor's. JetStream stores a message only if the
 * stream's last stored message carries that id (it compares with the stream's last message id,
 * which every stored message sets, with or without an id; a failed one leaves it), so:
 * - the last message's ack "stored at seq L" proves that all n were stored, one after the
 *   other, at L-n+1 … L: any message that failed, or anything stored in between by another
 *   publisher, breaks every link after it, the last one included;
 * - any other answer (an error, no answer in time) means some prefix of the chain may be stored
 *   and the rest not. Then every message of the chain is sent again, alone with its ack and the
 *   same `Nats-Msg-Id`: JetStream answers a stored one as a duplicate with its sequence (within
 *   the stream's duplicate window, nats-retained-window.ts) and stores the others — each gets
 *   exactly the answer it would have had on its own. Only while JetStream still remembers the
 *   ids: a message is sent again only if the stream's duplicate window (as the server has it
 *   now) is longer than the time since the chain was first sent, with a margin. A window shorter
 *   than that (a short retained window, an ack that came after the timeout because this process
 *   was busy) would store the messages twice and acknowledge both copies; its messages are then
 *   answered as timed out (not known to be stored, as a `js.publish` that timed out).
 *
 * **Order on the second send** (Broker.publishMany: a message failing for now holds its
 * subject's later ones). The first send keeps it by itself: what a stream stored of a chain is a
 * prefix of it. Sent again alone, each message is answered on its own, so a subject's messages
 * go one after the other, the next once the one before is stored (or refused for good): one that
 * fails for now on the second send (a timeout, a full stream, a JetStream error that may pass)
 * is answered so, and its subject's later messages are not sent but answered `held` — sent, they
 * would have been stored ahead of it, and the caller would send it again after them. Subjects
 * go on side by side. The wait per message is only on this path (a chain broken by a failure or
 * by another publisher of the stream).
 *
 * Messages of a stream that is not ours (its duplicate window is not ours to rely on), and
 * messages whose publisher set a JetStream directive header of its own, are acked one by one,
 * pipelined: one of them failing for now while a later one of its subject is stored is out of
 * order (not covered by the hold above).
 *
 * **Denied subjects.** The server answers a PUB on a subject this connection may not publish on
 * with a permission violation (-ERR) instead of routing it: no ack ever comes, and a chain through
 * it breaks at the next link. Each message of that subject waiting in an exchange is answered
 * `denied` when the violation arrives (nats-publish-violations.ts), so the batch does not wait for
 * the timeout, and is not sent again with its broken chain; the rest of the chain is.
 *
 * An ack means what it means for `js.publish`: the stream stored the message.
 */
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { isPermanentRefusal } from '../errors.ts';
import { ackError } from './nats-publish-errors.ts';
import {
  EXPECTED_LAST_MSG_ID_HEADER,
  hasJetStreamDirective,
  MSG_ID_HEADER,
  PublishIds,
} from './nats-publish-ids.ts';
import type { PublishViolation, PublishViolations } from './nats-publish-violations.ts';
import { openWireBatch } from './nats-wire-batch.ts';

/** How JetStream answered one message. */
export type AckResult =
  | { readonly kind: 'stored'; readonly seq: number }
  /** Nobody answered the subject (its stream is gone). */
  | { readonly kind: 'no-stream' }
  /** JetStream refused it; `code` is JetStream's error code (err_code), when it sent one. */
  | { readonly kind: 'error'; readonly message: string; readonly code?: number }
  /** The client did not send it (too large, connection closed). */
  | { readonly kind: 'refused'; readonly error: unknown }
  /** The server does not permit this connection to publish on its subject (a permission violation). */
  | { readonly kind: 'denied'; readonly error: PublishViolation }
  /** No answer within the timeout (the connection dropped, or the server is overloaded). */
  | { readonly kind: 'timeout' }
  /** Not sent again: an earlier message of its subject failed for now (`behind`) on the second send. */
  | { readonly kind: 'held'; readonly behind: AckResult };

/** What one message of a batch carries. */
export interface StreamPublish {
  readonly subject: string;
  readonly payload: Uint8Array;
  /** Its header lines (natsHeaderLines). */
  readonly headerLines: string;
  /**
   * The stream of ours that takes it: the batch's messages of one such stream are chained.
   * Undefined: the message is acknowledged on its own.
   */
  readonly chainStream: string | undefined;
}

/** Answers of one round trip, by slot; a slot nobody asked about (nor denied) stays undefined. */
interface Exchange {
  readonly answers: Array<AckResult | undefined>;
  /** Per slot: NOT_SENT, SENT (no ack asked for) or ASKED. */
  readonly sent: Uint8Array;
  /** Subjects whose messages were answered as denied (all at once: they went out before). */
  denied?: Set<string>;
  waiting: number;
  finish(): void;
}

const NOT_SENT = 0;
const SENT = 1;
const ASKED = 2;

/** What the sending side of an exchange tells it. */
interface Outgoing {
  /** Where the ack of `slot` is to be sent. */
  replyTo(slot: number): string;
  /** `slot` went out, asking for an ack or not. */
  sent(slot: number, asked: boolean): void;
}

/** Time the resend of a broken chain may take to reach the server, on top of what has passed. */
const RESEND_MARGIN_MS = 1_000;

/** The duplicate window of a stream as the server has it now, in ms; undefined when not known. */
export type DuplicateWindowOf = (stream: string) => Promise<number | undefined>;

export class JetStreamAcks {
  private readonly prefix = `${createInbox()}.`;
  private readonly ids = new PublishIds();
  private readonly exchanges = new Map<number, Exchange>();
  private nextExchange = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    private readonly duplicateWindowOf: DuplicateWindowOf,
    private readonly violations: PublishViolations,
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
   * to each, in the same order, once all are known or the timeout passed.
   */
  async publish(messages: readonly StreamPublish[]): Promise<AckResult[]> {
    const results: Array<AckResult | undefined> = new Array(messages.length);
    const chains = chainsOf(messages);
    /** Per chained stream: the messages sent in its chain, in order. */
    const sent = new Map<string, number[]>();
    const ids: string[] = new Array(messages.length);
    const batch = openWireBatch(this.nc);
    const sentAt = performance.now();
    const first = await this.exchange(messages, (out) => {
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index] as StreamPublish;
        const stream = message.chainStream;
        const last = stream === undefined ? undefined : chains.get(stream);
        let lines = message.headerLines;
        let links: number[] | undefined;
        if (last !== undefined) {
          links = sent.get(stream as string) ?? [];
          if (links.length === 0) sent.set(stream as string, links);
          ids[index] = this.ids.take();
          const previous = links.at(-1);
          // Ours first: nats-server takes the first occurrence of a name in the block as the header.
          lines =
            previous === undefined
              ? `\r\n${MSG_ID_HEADER}: ${ids[index]}${lines}`
              : `\r\n${MSG_ID_HEADER}: ${ids[index]}\r\n${EXPECTED_LAST_MSG_ID_HEADER}: ${ids[previous]}${lines}`;
        }
        const ask = last === undefined || index === last;
        try {
          batch.add(message.subject, ask ? out.replyTo(index) : undefined, lines, message.payload);
        } catch (error) {
          // Not sent, so not a link: the next message names the one before it.
          results[index] = { kind: 'refused', error };
          continue;
        }
        links?.push(index);
        out.sent(index, ask);
      }
      batch.send();
    });

    const again: number[] = [];
    /** Per stream sent again: until when (performance.now()) it still remembers the chain's ids. */
    const remembered = new Map<string, number>();
    for (const [stream, links] of sent) {
      const answer = first.answers[chains.get(stream) as number];
      if (answer?.kind === 'stored') {
        for (let link = 0; link < links.length; link++) {
          results[links[link] as number] = { kind: 'stored', seq: answer.seq - (links.length - 1 - link) };
        }
        continue;
      }
      // A denied link was not taken (and is not sent again): it keeps its answer.
      const undenied = links.filter((index) => first.answers[index]?.kind !== 'denied');
      if (undenied.length === 0) continue;
      const until = await this.rememberedUntil(stream, sentAt);
      if (until === undefined) for (const index of undenied) results[index] = { kind: 'timeout' };
      else {
        remembered.set(stream, until);
        again.push(...undenied);
      }
    }
    // A broken chain: each of its messages again, alone, with the same id (see above).
    if (again.length > 0) await this.sendAgainInOrder(messages, ids, again, remembered, results);
    for (let index = 0; index < results.length; index++) {
      results[index] ??= first.answers[index] ?? { kind: 'timeout' };
    }
    return results as AckResult[];
  }

  /**
   * Until when (performance.now()) a chain sent at `sentAt` can still be sent again without
   * storing anything twice; undefined when not now.
   */
  private async rememberedUntil(stream: string, sentAt: number): Promise<number | undefined> {
    const windowMs = await this.duplicateWindowOf(stream).catch(() => undefined);
    if (windowMs === undefined) return undefined;
    const until = sentAt + windowMs - RESEND_MARGIN_MS;
    return performance.now() < until ? until : undefined;
  }

  /**
   * The second send of broken chains (`again`: indexes in batch order), in order per subject
   * (see "Order on the second send" above); sets each message's answer in `results`.
   */
  private async sendAgainInOrder(
    messages: readonly StreamPublish[],
    ids: readonly string[],
    again: readonly number[],
    remembered: ReadonlyMap<string, number>,
    results: Array<AckResult | undefined>,
  ): Promise<void> {
    const bySubject = new Map<string, number[]>();
    for (const index of again) {
      const subject = (messages[index] as StreamPublish).subject;
      const indexes = bySubject.get(subject);
      if (indexes === undefined) bySubject.set(subject, [index]);
      else indexes.push(index);
    }
    const inOrder = async (indexes: readonly number[]) => {
      let failure: AckResult | undefined;
      for (const index of indexes) {
        if (failure !== undefined) {
          results[index] = { kind: 'held', behind: failure };
          continue;
        }
        const message = messages[index] as StreamPublish;
        const until = remembered.get(message.chainStream as string) as number;
        // Past the window its id may be forgotten: not known to be stored, as if not sent again.
        const answer: AckResult =
          performance.now() < until
            ? await this.sendAlone(message, ids[index] as string)
            : { kind: 'timeout' };
        results[index] = answer;
        if (answer.kind !== 'stored' && !this.refusedForGood(message, answer)) failure = answer;
      }
    };
    await Promise.all(Array.from(bySubject.values(), inOrder));
  }

  /** One message of a broken chain, alone with its id, and JetStream's answer to it. */
  private async sendAlone(message: StreamPublish, id: string): Promise<AckResult> {
    let refused: AckResult | undefined;
    const { answers } = await this.exchange([message], (out) => {
      const batch = openWireBatch(this.nc);
      try {
        batch.add(
          message.subject,
          out.replyTo(0),
          `\r\n${MSG_ID_HEADER}: ${id}${message.headerLines}`,
          message.payload,
        );
        out.sent(0, true);
        batch.send();
      } catch (error) {
        refused = { kind: 'refused', error };
      }
    });
    return refused ?? answers[0] ?? { kind: 'timeout' };
  }

  /** True when `answer` refuses the message for good (pubsub/errors.ts): it holds nothing back. */
  private refusedForGood(message: StreamPublish, answer: AckResult): boolean {
    return isPermanentRefusal(ackError(message.subject, message.payload, this.nc, answer));
  }

  /**
   * One round trip of `messages` (slots are their indexes): `send` publishes some of them, asking
   * for acks at `out.replyTo(slot)`, and tells each one sent; resolves once every ack asked for
   * arrived (or its message was denied), or the timeout passed.
   */
  private exchange(messages: readonly StreamPublish[], send: (out: Outgoing) => void): Promise<Exchange> {
    const id = this.nextExchange++;
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const exchange: Exchange = {
      answers: new Array(messages.length),
      sent: new Uint8Array(messages.length),
      waiting: 0,
      finish,
    };
    this.exchanges.set(id, exchange);
    const replyPrefix = `${this.prefix}${id}.`;
    // Before the first PUB; a violation is read from the socket, after this synchronous send.
    const stopListening = this.violations.listen((violation) => deny(exchange, messages, violation));
    // Acks arrive from the socket too: the count is complete before the first.
    send({
      replyTo: (slot) => `${replyPrefix}${slot}`,
      sent: (slot, asked) => {
        exchange.sent[slot] = asked ? ASKED : SENT;
        if (asked) exchange.waiting += 1;
      },
    });
    if (exchange.waiting === 0) finish();
    const timer = setTimeout(finish, this.timeoutMs);
    return done.then(() => {
      clearTimeout(timer);
      stopListening();
      this.exchanges.delete(id);
      return exchange;
    });
  }

  private settle(message: Msg): void {
    const subject = message.subject;
    const dot = subject.indexOf('.', this.prefix.length);
    const exchange = this.exchanges.get(Number(subject.slice(this.prefix.length, dot)));
    const slot = Number(subject.slice(dot + 1));
    if (!exchange || exchange.answers[slot] !== undefined) return;
    exchange.answers[slot] = ackResultOf(message);
    exchange.waiting -= 1;
    if (exchange.waiting === 0) exchange.finish();
  }
}

/**
 * Answers the messages of the exchange on the violation's subject that went out and have no
 * answer yet as denied. The server keeps no count of what it refused per publisher, but a subject
 * this connection may not publish on is refused on every PUB: each such message waiting here is
 * refused (or will be, its own -ERR coming after this one), whichever PUB this -ERR answers.
 */
function deny(exchange: Exchange, messages: readonly StreamPublish[], violation: PublishViolation): void {
  // The server sends one per PUB: a batch of n denied messages gets n of them.
  exchange.denied ??= new Set();
  if (exchange.denied.has(violation.subject)) return;
  exchange.denied.add(violation.subject);
  let answered = false;
  for (let slot = 0; slot < messages.length; slot++) {
    const state = exchange.sent[slot];
    if (state === NOT_SENT || exchange.answers[slot] !== undefined) continue;
    if ((messages[slot] as StreamPublish).subject !== violation.subject) continue;
    exchange.answers[slot] = { kind: 'denied', error: violation };
    if (state === ASKED) {
      exchange.waiting -= 1;
      answered = true;
    }
  }
  if (answered && exchange.waiting === 0) exchange.finish();
}

/**
 * The streams whose messages are chained in this batch, each with the index of its last
 * message: two messages or more, none with a JetStream directive of the publisher's.
 */
function chainsOf(messages: readonly StreamPublish[]): Map<string, number> {
  const last = new Map<string, number>();
  const count = new Map<string, number>();
  const unchained = new Set<string>();
  for (let index = 0; index < messages.length; index++) {
    const { chainStream: stream, headerLines } = messages[index] as StreamPublish;
    if (stream === undefined || unchained.has(stream)) continue;
    if (hasJetStreamDirective(headerLines)) {
      unchained.add(stream);
      continue;
    }
    last.set(stream, index);
    count.set(stream, (count.get(stream) ?? 0) + 1);
  }
  for (const stream of last.keys()) {
    if (unchained.has(stream) || (count.get(stream) as number) < 2) last.delete(stream);
  }
  return last;
}

function ackResultOf(message: Msg): AckResult {
  if (message.data.length === 0 && message.headers?.code === 503) return { kind: 'no-stream' };
  try {
    const ack = JSON.parse(message.string()) as {
      seq?: number;
      error?: { description?: string; code?: number; err_code?: number };
    };
    if (ack.error) {
      const { description, code, err_code } = ack.error;
      return { kind: 'error', message: description ?? `error ${code}`, code: err_code };
    }
    // A duplicate (a chained message sent again) was stored before, at `seq`.
    if (typeof ack.seq === 'number') return { kind: 'stored', seq: ack.seq };
  } catch {
    // Not JSON: reported below.
  }
  return { kind: 'error', message: `unexpected JetStream answer: ${message.string().slice(0, 200)}` };
}
