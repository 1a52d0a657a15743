/**
 * A chained batch whose ack comes after the ack timeout (the process was busy: a long GC pause,
 * a starved CPU) on a retained window shorter than the timeout: the chain is sent again, and
 * JetStream must still know the ids, or the messages are stored and delivered twice.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { serviceUrl } from '../setup/services.ts';
import { natsBackend, text, uniqueSubject } from './broker-backends.ts';

describe('NATS chained batch answered after the ack timeout', () => {
  let broker: Broker;
  let plain: NatsConnection;
  beforeAll(async () => {
    broker = await natsBackend().connect();
    plain = await connect({ servers: serviceUrl('nats') });
  });
  afterAll(async () => {
    await broker?.close();
    await plain?.close();
  });

  it('on a 2 s window: nothing is stored twice; what is acknowledged was stored once', async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 2_000 });
    const seen = new Map<string, number>();
    const sub = plain.subscribe(subject, {
      callback: (_error, message) => {
        seen.set(message.string(), (seen.get(message.string()) ?? 0) + 1);
      },
    });
    await plain.flush();
    const payloads = Array.from({ length: 50 }, (_, index) => `late-${index}`);
    const outcomes = broker.publishMany(payloads.map((payload) => ({ subject, payload: text(payload) })));
    // Let the batch go out, then keep this process busy past the ack timeout (5 s). nats.js writes
    // what was queued in a microtask; microtask turns only, so that no I/O turn can read an ack
    // that came back quickly before the busy time (a setImmediate turn would: then the batch was
    // answered in time, and this test would test nothing).
    for (let turn = 0; turn < 10; turn++) await Promise.resolve();
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      // busy: the ack arrives meanwhile but is read only after the timer fired (timers run first)
    }
    const answered = await outcomes;
    await plain.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    sub.unsubscribe();
    // The chain was stored before the ack timed out: a live subscriber got it, once.
    expect([...seen.keys()].sort()).toEqual([...payloads].sort());
    expect([...seen.entries()].filter(([, count]) => count > 1)).toEqual([]);
    // Too late to send again without storing twice: not known to be stored, so not acknowledged.
    expect(answered.every((outcome) => outcome.status === 'rejected')).toBe(true);
    expect(String((answered[0] as PromiseRejectedResult).reason)).toMatch(/did not confirm .* in time/);
  }, 30_000);
});
