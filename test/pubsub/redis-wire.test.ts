/**
 * What streamgate's subjects look like inside Redis: channels 1:1, so plain Redis clients can
 * publish to streamgate subscribers; the envelope is only added by streamgate itself.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { decodeEnvelope, encodeEnvelope } from '../../src/pubsub/redis/redis-envelope.ts';
import { subjects } from '../../src/pubsub/subjects.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { serviceUrl } from '../setup/services.ts';
import { redisBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

describe('Redis wire format', () => {
  let broker: Broker;
  let plain: Redis;
  let plainSubscriber: Redis;
  beforeAll(async () => {
    broker = await redisBackend().connect();
    plain = new Redis(serviceUrl('redis'));
    plainSubscriber = new Redis(serviceUrl('redis'));
  });
  afterAll(async () => {
    await broker?.close();
    plain?.disconnect();
    plainSubscriber?.disconnect();
  });

  it('delivers a plain PUBLISH on the subject channel as a bare payload', async () => {
    const state = uniqueSubject();
    const subscriber = await subscribed(broker.subscribe(subjects.state(null, state)));
    await plain.publish(`processor.state.${state}`, '<<>>ASSISTANT<<>>');
    const message = await subscriber.messages.next();
    expect(textOf(message)).toBe('<<>>ASSISTANT<<>>');
    expect(message.headers).toEqual({});
  });

  it('publishes on the subject channel, payload after the envelope', async () => {
    const subject = uniqueSubject();
    const received = new AsyncQueue<Buffer>();
    plainSubscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === subject) received.push(message);
    });
    await plainSubscriber.subscribe(subject);
    await broker.publish(subject, text('raw'), { headers: { 'X-A': '1' } });
    const { meta, payload } = decodeEnvelope(await received.next());
    expect(new TextDecoder().decode(payload)).toBe('raw');
    expect(meta.h).toEqual({ 'X-A': '1' });
  });

  it('reads a malformed envelope as a bare payload instead of dropping it', () => {
    const good = encodeEnvelope({ h: { a: 'b' } }, text('x'));
    const truncated = good.subarray(0, 10);
    expect(decodeEnvelope(truncated).payload.byteLength).toBe(10);
    const badJson = Buffer.from(good);
    badJson[8] = 0x7b + 1; // breaks the JSON
    expect(decodeEnvelope(badJson).meta).toEqual({});
  });
});
