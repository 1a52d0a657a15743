/**
 * The second send of a broken JetStream chain (src/pubsub/nats/nats-publish-acks.ts, "Order on the
 * second send") with a stand-in JetStream that loses chosen messages — no store, no answer, as an
 * overloaded server or a cut does: a loss lasting exactly the first and second sends of one message
 * cannot be made on demand on a real nats-server (the real-server side, with a stream full by
 * bytes: test/pubsub/nats-batch-publish-faults). What a subscriber of the stream would see is what
 * the stand-in stored, in its order.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  type AckResult,
  JetStreamAcks,
  type StreamPublish,
} from '../../src/pubsub/nats/nats-publish-acks.ts';
import type { PublishViolations } from '../../src/pubsub/nats/nats-publish-violations.ts';

const ACK_TIMEOUT_MS = 200;

/** One stream of ours, as JetStream keeps it: ids de-duplicated, `Nats-Expected-Last-Msg-Id` checked. */
function standInJetStream(lost: (payload: string) => boolean) {
  const stored: string[] = [];
  const seqOfId = new Map<string, number>();
  let lastId: string | undefined;
  let inbox: ((error: Error | null, message: Msg) => void) | undefined;
  const answer = (reply: string | undefined, body: object) => {
    if (reply === undefined) return;
    const text = JSON.stringify(body);
    const message = { subject: reply, data: Buffer.from(text), headers: undefined, string: () => text };
    setImmediate(() => inbox?.(null, message as unknown as Msg));
  };
  const nc = {
    info: { max_payload: 1_048_576 },
    isClosed: () => false,
    isDraining: () => false,
    subscribe(_subject: string, options: { callback: typeof inbox }) {
      inbox = options.callback;
      return {};
    },
    publish(
      _subject: string,
      data: Uint8Array,
      options: { headers?: { encode(): Uint8Array }; reply?: string },
    ) {
      const payload = Buffer.from(data).toString();
      const block = Buffer.from(options.headers?.encode() ?? new Uint8Array()).toString();
      const header = (name: string) => new RegExp(`\r\n${name}: ([^\r]*)`).exec(block)?.[1];
      const id = header('Nats-Msg-Id');
      const seen = id === undefined ? undefined : seqOfId.get(id);
      if (seen !== undefined) return answer(options.reply, { stream: 'SG_x', seq: seen, duplicate: true });
      const expected = header('Nats-Expected-Last-Msg-Id');
      if (expected !== undefined && expected !== lastId) {
        return answer(options.reply, {
          error: { code: 400, err_code: 10070, description: 'wrong last msg ID' },
        });
      }
      if (lost(payload)) return;
      stored.push(payload);
      lastId = id;
      if (id !== undefined) seqOfId.set(id, stored.length);
      answer(options.reply, { stream: 'SG_x', seq: stored.length });
    },
  } as unknown as NatsConnection;
  return { nc, stored };
}

const noViolations: PublishViolations = {
  listen: () => () => {},
  record: () => ({ of: () => undefined, stop: () => {} }),
};

const batchOf = (subject: string, payloads: readonly string[]): StreamPublish[] =>
  payloads.map((payload) => ({
    subject,
    payload: Buffer.from(payload),
    headerLines: '',
    chainStream: 'SG_x',
  }));

const kinds = (answers: readonly AckResult[]) => answers.map((answer) => answer.kind);

describe('NATS chained batch: a message lost on the second send holds its subject', () => {
  it('3 of 6 lost on both sends: 1, 2 stored; 3 timed out; 4, 5, 6 held, not stored ahead of it', async () => {
    const { nc, stored } = standInJetStream((payload) => payload === 'm-3');
    const acks = new JetStreamAcks(nc, ACK_TIMEOUT_MS, async () => 20_000, noViolations);
    const payloads = ['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6'];

    const answers = await acks.publish(batchOf('monitor.dev', payloads));

    expect(kinds(answers)).toEqual(['stored', 'stored', 'timeout', 'held', 'held', 'held']);
    expect(answers[3]).toEqual({ kind: 'held', behind: { kind: 'timeout' } });
    // A subscriber sees 1, 2; the caller (the device outbox) sends 3, 4, 5, 6 again, in order.
    // Before, the second send was pipelined: 4, 5, 6 were stored, the subscriber saw 1, 2, 4, 5, 6, 3.
    expect(stored).toEqual(['m-1', 'm-2']);
  });

  it('a chain the stream may have forgotten is not sent again (it could be stored twice): each not known', async () => {
    const { nc, stored } = standInJetStream((payload) => payload === 'm-2');
    // A window that ends 1 s (the margin) after the first send: the chain cannot be sent again.
    const acks = new JetStreamAcks(nc, ACK_TIMEOUT_MS, async () => 1_000, noViolations);

    const answers = await acks.publish(batchOf('monitor.dev', ['m-1', 'm-2', 'm-3']));

    expect(kinds(answers)).toEqual(['timeout', 'timeout', 'timeout']);
    expect(stored).toEqual(['m-1']);
  });
});
