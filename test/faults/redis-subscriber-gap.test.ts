/**
 * Redis pub/sub keeps nothing for a subscriber that is away. When only the subscriber
 * connection of one streamgate drops (the server kills it, a network blip) while others keep
 * publishing, a subscription over a retained window must read what it missed from the window
 * once it is back: every acknowledged message, in order, once. A subscription without a window
 * just goes on.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  redisBackend,
  subscribed,
  text,
  textOf,
  uniqueName,
  uniqueSubject,
} from '../pubsub/broker-backends.ts';
import { serviceUrl } from '../setup/services.ts';

/** Kills the connections of one client name at the server (CLIENT KILL by id); returns how many. */
async function killConnections(name: string): Promise<number> {
  const admin = new Redis(serviceUrl('redis'));
  try {
    const list = String(await admin.client('LIST'));
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    for (const id of ids) await admin.client('KILL', 'ID', id);
    return ids.length;
  } finally {
    admin.disconnect();
  }
}

describe('Redis: a subscriber connection dropped while publishing goes on', () => {
  const opened: Broker[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((broker) => broker.close()));
  });

  it('reads what it missed from the retained window: every acknowledged message, in order, once', async () => {
    const backend = redisBackend();
    const name = uniqueName('gap');
    const subscriber = await backend.connect(name);
    const publisher = await backend.connect();
    opened.push(subscriber, publisher);
    const root = uniqueSubject();
    await subscriber.retain(`${root}.>`, { maxAgeMs: 600_000 });
    const kept = await subscribed(subscriber.subscribe(`${root}.>`));

    const acknowledged: number[] = [];
    let running = true;
    let killed = 0;
    const producing = (async () => {
      for (let n = 0; running; n++) {
        await publisher.publish(`${root}.a`, text(String(n)));
        acknowledged.push(n);
        // Mid-stream, only the subscriber's connection goes: the publisher never stops.
        if (n === 100) killed = await killConnections(`${name}-sub`);
      }
    })();
    await waitUntil(() => acknowledged.length >= 600, 30_000, '600 acknowledged messages');
    running = false;
    await producing;
    expect(killed).toBe(1);

    const received: number[] = [];
    await waitUntil(
      async () => {
        while (kept.messages.pending.length > 0) received.push(Number(textOf(await kept.messages.next())));
        return received.includes(acknowledged.at(-1) as number);
      },
      20_000,
      'the last acknowledged message',
    );
    expect(received).toEqual(acknowledged);
  });
});
