/**
 * Topic fan-out: one topic, 1,000 subscribers with 1,000 distinct equality filters, against
 * 1,000 unfiltered subscribers, in one run. In-process: records go through the same
 * KafkaTopicFeed the Kafka consumer feeds (parse once, match once against the filter index,
 * per-subscriber cursor and position, bounded queue), and every subscriber drains its stream
 * as a transport would. A third case checks the same filters one by one, without the index, to
 * show what the index saves. Run: `npx tsx bench/topics.ts` (or through `npm run bench`).
 */
import pino from 'pino';
import { createBrokerMessageBounds } from '../src/domain/broker-message-bounds.ts';
import { KafkaTopicFeed } from '../src/domain/topics/kafka-topic-feed.ts';
import { compileFilter, matchesFilter } from '../src/domain/topics/message-filter.ts';
import { TopicSubscriber } from '../src/domain/topics/topic-subscriber.ts';
import { createMetrics } from '../src/metrics.ts';

const SUBSCRIBERS = 1_000;
const BATCH = 200;

export interface TopicsBenchResult {
  readonly name: string;
  readonly messages: number;
  readonly deliveries: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly deliveriesPerSecond: number;
}

async function fanOut(
  name: string,
  messages: number,
  filterOf: (index: number) => unknown,
): Promise<TopicsBenchResult> {
  // The server checks every record against MAX_JSON_DEPTH (64) and the text bounds; so does this.
  const bounds = createBrokerMessageBounds({
    maxJsonDepth: 64,
    log: pino({ level: 'silent' }),
    metrics: createMetrics({ processMetrics: false }),
  });
  const feed = new KafkaTopicFeed('bench.prices', 'bench.prices', bounds);
  let delivered = 0;
  const drains: Array<Promise<void>> = [];
  const subscribers: TopicSubscriber[] = [];
  for (let index = 0; index < SUBSCRIBERS; index++) {
    const subscriber = new TopicSubscriber({
      filter: compileFilter(filterOf(index), 20),
      bufferBytes: 64 * 1024 * 1024,
      onEnd: () => feed.remove(subscriber),
    });
    subscriber.start('bench.prices', { kind: 'kafka', next: new Map([[0, 0n]]) });
    feed.add(subscriber);
    subscribers.push(subscriber);
    drains.push(
      (async () => {
        for await (const delivery of subscriber.queue.iterator)
          if (delivery.kind === 'message') delivered += 1;
      })(),
    );
  }
  const values = Array.from({ length: SUBSCRIBERS }, (_, index) =>
    Buffer.from(JSON.stringify({ symbol: `S${index}`, price: 100 + index / 100, venue: 'ICE' })),
  );
  const started = performance.now();
  for (let offset = 0; offset < messages; offset++) {
    feed.dispatch({
      topic: 'bench.prices',
      partition: 0,
      offset: BigInt(offset),
      key: null,
      value: values[offset % SUBSCRIBERS] as Buffer,
      timestamp: new Date(),
    });
    // Let the subscribers drain, as a transport's writes would.
    if (offset % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  for (const subscriber of subscribers) subscriber.queue.end();
  await Promise.all(drains);
  const seconds = (performance.now() - started) / 1000;
  return {
    name,
    messages,
    deliveries: delivered,
    seconds,
    messagesPerSecond: messages / seconds,
    deliveriesPerSecond: delivered / seconds,
  };
}

/** The same 1,000 filters checked one by one per message: the cost the index avoids. */
function scanOnly(messages: number): TopicsBenchResult {
  const filters = Array.from({ length: SUBSCRIBERS }, (_, index) =>
    compileFilter({ equals: { symbol: `S${index}` } }, 20),
  );
  const values = Array.from({ length: SUBSCRIBERS }, (_, i) => ({ symbol: `S${i}`, price: 1 }));
  let matched = 0;
  const started = performance.now();
  for (let offset = 0; offset < messages; offset++) {
    const data = values[offset % SUBSCRIBERS];
    for (const filter of filters) if (matchesFilter(filter, data)) matched += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    name: 'distinct filters, scanned (no index, matching only)',
    messages,
    deliveries: matched,
    seconds,
    messagesPerSecond: messages / seconds,
    deliveriesPerSecond: matched / seconds,
  };
}

/** Runs the three cases and prints one line each. */
export async function runTopicsBench(): Promise<TopicsBenchResult[]> {
  const results = [
    await fanOut('1,000 subscribers, 1,000 distinct equality filters', 200_000, (index) => ({
      equals: { symbol: `S${index}` },
    })),
    await fanOut('1,000 subscribers, unfiltered', 2_000, () => null),
    scanOnly(20_000),
  ];
  for (const result of results) {
    console.log(
      `topics | ${result.name.padEnd(54)} | ${result.messages.toLocaleString('en').padStart(8)} messages | ` +
        `${result.deliveries.toLocaleString('en').padStart(9)} deliveries | ` +
        `${Math.round(result.messagesPerSecond).toLocaleString('en').padStart(9)} messages/s | ` +
        `${Math.round(result.deliveriesPerSecond).toLocaleString('en').padStart(10)} deliveries/s`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await runTopicsBench();
