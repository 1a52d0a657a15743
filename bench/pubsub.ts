/**
 * Publish → deliver over each Broker backend: throughput and latency with 1 and 100 local
 * subscribers of one subject (which share one broker subscription), 200-byte messages.
 * Starts its own NATS, Redis and Kafka with scripts/services/*.sh and stops them afterwards.
 *
 *   npm run bench -- pubsub
 *   BENCH_BACKENDS=nats,redis BENCH_MESSAGES=5000 npm run bench -- pubsub
 *
 * Throughput: N messages published with up to 500 in flight; the clock stops when every
 * subscriber has every message. Latency: 2,000 messages paced at 1,000/s, each carrying its
 * send time; one sample per delivery (publisher and subscribers share the process's clock).
 */
import os from 'node:os';
import { loadConfig } from '../src/config/config.ts';
import type { Broker } from '../src/pubsub/broker.ts';
import { createKafkaBroker } from '../src/pubsub/kafka/kafka-broker.ts';
import { createMemoryBroker } from '../src/pubsub/memory/memory-broker.ts';
import { createNatsBroker } from '../src/pubsub/nats/nats-broker.ts';
import { createRedisBroker } from '../src/pubsub/redis/redis-broker.ts';
import { type BenchServer, startServer } from './support/bench-servers.ts';
import { formatTable, percentile } from './support/latency-stats.ts';

const MESSAGE_BYTES = 200;
const SUBSCRIBER_COUNTS = [1, 100] as const;
const IN_FLIGHT = 500;
const LATENCY_MESSAGES = 2_000;
const LATENCY_RATE_PER_SECOND = 1_000;
const DELIVERY_TIMEOUT_MS = 180_000;

type BackendName = Broker['kind'];

interface Backend {
  readonly name: BackendName;
  readonly messages: number;
  /** Publisher and subscriber connections (the same broker for memory). */
  connect(): Promise<{ publisher: Broker; subscriber: Broker; stop(): Promise<void> }>;
}

interface Row {
  readonly backend: BackendName;
  readonly subscribers: number;
  readonly messages: number;
  readonly messagesPerSecond: number;
  readonly deliveriesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const connectionTimeouts = { connectTimeoutMs: 60_000, reconnectMaxWaitMs: 1_000 };

function backends(): Backend[] {
  const override = Number(process.env.BENCH_MESSAGES ?? Number.NaN);
  const count = (fallback: number) => (Number.isFinite(override) && override > 0 ? override : fallback);
  const withServer = (
    name: Exclude<BackendName, 'memory'>,
    messages: number,
    open: (url: string, label: string) => Promise<Broker>,
  ): Backend => ({
    name,
    messages: count(messages),
    connect: async () => {
      const server: BenchServer = startServer(name);
      const publisher = await open(server.url, 'bench-publisher');
      const subscriber = await open(server.url, 'bench-subscriber');
      return {
        publisher,
        subscriber,
        stop: async () => {
          await Promise.all([publisher.close(), subscriber.close()]);
          server.stop();
        },
      };
    },
  });
  const kafka = loadConfig({}).broker.kafka;
  const all: Backend[] = [
    {
      name: 'memory',
      messages: count(50_000),
      connect: async () => {
        const broker = createMemoryBroker();
        return { publisher: broker, subscriber: broker, stop: () => broker.close() };
      },
    },
    withServer('nats', 20_000, (url, name) => createNatsBroker({ url, name, ...connectionTimeouts })),
    withServer('redis', 20_000, (url, name) => createRedisBroker({ url, name, ...connectionTimeouts })),
    withServer('kafka', 20_000, (url, name) =>
      createKafkaBroker({
        brokers: [url],
        clientId: name,
        kafka,
        groupPrefix: 'bench',
        ...connectionTimeouts,
      }),
    ),
  ];
  const wanted = process.env.BENCH_BACKENDS?.split(',').map((name) => name.trim());
  return wanted ? all.filter((backend) => wanted.includes(backend.name)) : all;
}

/** Counts deliveries to every subscriber and keeps latency samples while asked to. */
class DeliveryMeter {
  delivered = 0;
  sampling = false;
  readonly samples: number[] = [];
  private target = Number.POSITIVE_INFINITY;
  private reached: (() => void) | undefined;

  record(payload: Uint8Array): void {
    this.delivered += 1;
    if (this.sampling) {
      const sentAt = new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0);
      this.samples.push(performance.now() - sentAt);
    }
    if (this.delivered >= this.target) this.reached?.();
  }

  /** Resolves when `total` deliveries have been counted since the start. */
  until(total: number): Promise<void> {
    if (this.delivered >= total) return Promise.resolve();
    this.target = total;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`only ${this.delivered} of ${total} deliveries within ${DELIVERY_TIMEOUT_MS} ms`)),
        DELIVERY_TIMEOUT_MS,
      );
      this.reached = () => {
        clearTimeout(timer);
        this.target = Number.POSITIVE_INFINITY;
        resolve();
      };
    });
  }
}

function message(): Uint8Array {
  const payload = new Uint8Array(MESSAGE_BYTES).fill(0x61);
  new DataView(payload.buffer).setFloat64(0, performance.now());
  return payload;
}

async function measure(
  backend: Backend,
  publisher: Broker,
  subscriber: Broker,
  subscribers: number,
): Promise<Row> {
  const subject = `bench.${backend.name}.s${subscribers}x${Date.now()}`;
  const meter = new DeliveryMeter();
  const subscriptions = Array.from({ length: subscribers }, () => subscriber.subscribe(subject));
  for (const subscription of subscriptions) {
    void (async () => {
      for await (const delivered of subscription) meter.record(delivered.payload);
    })();
  }
  await Promise.all(subscriptions.map((subscription) => subscription.ready));

  // Throughput: as fast as the broker takes them, a bounded number in flight.
  const started = performance.now();
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  const publishing: Promise<unknown>[] = [];
  for (let index = 0; index < backend.messages; index++) {
    inFlight += 1;
    publishing.push(
      publisher.publish(subject, message()).finally(() => {
        inFlight -= 1;
        slotFreed?.();
      }),
    );
    if (inFlight >= IN_FLIGHT) {
      await new Promise<void>((resolve) => {
        slotFreed = resolve;
      });
      slotFreed = undefined;
    }
  }
  await Promise.all(publishing);
  await meter.until(backend.messages * subscribers);
  const seconds = (performance.now() - started) / 1000;

  // Latency: paced well below saturation, so it shows the path, not a queue.
  meter.sampling = true;
  const baseline = meter.delivered;
  const perTick = LATENCY_RATE_PER_SECOND / 100;
  for (let sent = 0; sent < LATENCY_MESSAGES; sent += perTick) {
    await Promise.all(Array.from({ length: perTick }, () => publisher.publish(subject, message())));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await meter.until(baseline + LATENCY_MESSAGES * subscribers);
  for (const subscription of subscriptions) subscription.unsubscribe();

  const sorted = [...meter.samples].sort((a, b) => a - b);
  return {
    backend: backend.name,
    subscribers,
    messages: backend.messages,
    messagesPerSecond: backend.messages / seconds,
    deliveriesPerSecond: (backend.messages * subscribers) / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

const rows: Row[] = [];
for (const backend of backends()) {
  process.stdout.write(`${backend.name}: starting…\n`);
  const { publisher, subscriber, stop } = await backend.connect();
  try {
    for (const subscribers of SUBSCRIBER_COUNTS) {
      const row = await measure(backend, publisher, subscriber, subscribers);
      rows.push(row);
      process.stdout.write(`${backend.name} × ${subscribers}: ${Math.round(row.messagesPerSecond)} msg/s\n`);
    }
  } finally {
    await stop();
  }
}

const number = (value: number) => Math.round(value).toLocaleString('en-US');
const millis = (value: number) => value.toFixed(2);
process.stdout.write(
  `\nPublish → deliver, ${MESSAGE_BYTES}-byte messages, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ` +
    `${Math.round(os.totalmem() / 1024 ** 3)} GB, Node ${process.version}\n\n`,
);
process.stdout.write(
  `${formatTable(
    ['backend', 'subscribers', 'messages', 'published/s', 'deliveries/s', 'p50 ms', 'p99 ms'],
    rows.map((row) => [
      row.backend,
      String(row.subscribers),
      number(row.messages),
      number(row.messagesPerSecond),
      number(row.deliveriesPerSecond),
      millis(row.p50Ms),
      millis(row.p99Ms),
    ]),
  )}\n`,
);
// Kafka's clients keep timers of their own for a while; the numbers are out, so end here.
process.exit(0);
