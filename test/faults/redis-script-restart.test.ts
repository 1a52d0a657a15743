/**
 * The Redis publish script after a Redis restart (src/pubsub/redis/redis-retained-window.ts),
 * on a private Redis. A restarted Redis has an empty script cache: a pipelined batch of `EVALSHA`s
 * would each fail with NOSCRIPT and be sent again as `EVAL`, one by one as their failures come
 * back — and had another instance loaded the script in between, the batch's later messages would
 * have run ahead of its first ones (Broker.publishMany's order after a failure). The broker loads
 * the script on every (re)connect before any publish, so after the restart the batch runs as it
 * was sent, with no NOSCRIPT: read from Redis's own statistics (a new process starts them at 0).
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  redisBackend,
  subscribed,
  text,
  textOf,
  uniqueSubject,
  usePrivateBrokerServer,
} from '../pubsub/broker-backends.ts';

/** `name:count` of each line of an INFO section, e.g. errorstat_NOSCRIPT → its count. */
async function infoCounts(redis: Redis, section: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await redis.info(section)).split('\r\n')) {
    const match = /^(\w+):(?:count|calls)=(\d+)/.exec(line);
    if (match) counts.set(match[1] as string, Number(match[2]));
  }
  return counts;
}

describe('Redis: the publish script is loaded on every (re)connect', () => {
  const redis = usePrivateBrokerServer('redis', redisBackend);
  let plain: Redis | undefined;
  afterEach(() => {
    plain?.disconnect();
  });

  it('after a restart, a batch runs as sent (no NOSCRIPT, no EVAL fallback); a subscriber sees it whole, in order', async () => {
    const broker = await redis.connect();
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 60_000 });
    await redis.server.restart();
    await waitUntil(() => broker.health().status === 'connected', 20_000, 'the broker to reconnect');

    const live = await subscribed(broker.subscribe(subject));
    const payloads = Array.from({ length: 500 }, (_, index) => `m-${index + 1}`);
    const outcomes = await broker.publishMany(
      payloads.map((payload) => ({ subject, payload: text(payload) })),
    );
    expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    const seen = await live.messages.take(payloads.length, 10_000, 'the subscriber');
    expect(seen.map(textOf)).toEqual(payloads);

    plain = new Redis(redis.server.url);
    const errors = await infoCounts(plain, 'errorstats');
    expect(errors.get('errorstat_NOSCRIPT') ?? 0).toBe(0);
    const commands = await infoCounts(plain, 'commandstats');
    expect(commands.get('cmdstat_eval') ?? 0).toBe(0);
    expect(commands.get('cmdstat_evalsha')).toBeGreaterThanOrEqual(payloads.length);
  }, 60_000);
});
