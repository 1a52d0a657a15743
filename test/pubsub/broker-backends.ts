/**
 * The backends the pub/sub suites run over, each against its real server from the harness.
 * A backend connects brokers to the shared server; tests stay apart by using subjects of their
 * own (`uniqueSubject()`), never by restarting anything.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import type { Broker, BrokerMessage, Subscription } from '../../src/pubsub/broker.ts';
import { createKafkaBroker } from '../../src/pubsub/kafka/kafka-broker.ts';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { createNatsBroker } from '../../src/pubsub/nats/nats-broker.ts';
import { createRedisBroker } from '../../src/pubsub/redis/redis-broker.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { type PrivateService, type ServiceName, serviceUrl, startService } from '../setup/services.ts';

export interface BackendUnderTest {
  readonly kind: Broker['kind'];
  /** A new broker connection; `name` labels it at the server where the backend can. */
  connect(name?: string): Promise<Broker>;
  /**
   * Another connection to the same broker as `first`. The memory broker is one process, so
   * its "second connection" is the same broker.
   */
  connectPeer(first: Broker, name?: string): Promise<Broker>;
  /** True where a request with nobody listening fails at once (NATS 503, Redis PUBLISH → 0). */
  readonly detectsNoResponders: boolean;
  /** What the server itself reports about a named connection, where it can tell. */
  readonly server?: ServerObserver;
}

export interface ServerObserver {
  /** Open connections of the broker connected with this name. */
  connections(name: string): Promise<number>;
  /** How many subscriptions the server holds on exactly this subject, over all connections. */
  subscribersOf(subject: string): Promise<number>;
}

export const memoryBackend: BackendUnderTest = {
  kind: 'memory',
  connect: async () => createMemoryBroker(),
  connectPeer: async (first) => first,
  detectsNoResponders: true,
};

/** Connections made by tests get short reconnect waits so fault tests finish quickly. */
export function natsBackend(url = (): string => serviceUrl('nats')): BackendUnderTest {
  const connect = (name?: string) =>
    createNatsBroker({
      url: url(),
      name: name ?? uniqueName('nats'),
      connectTimeoutMs: 5_000,
      reconnectMaxWaitMs: 500,
    });
  return {
    kind: 'nats',
    connect,
    connectPeer: (_first, name) => connect(name),
    detectsNoResponders: true,
    server: natsMonitor(),
  };
}

export function redisBackend(url = (): string => serviceUrl('redis')): BackendUnderTest {
  const connect = (name?: string) =>
    createRedisBroker({
      url: url(),
      name: name ?? uniqueName('redis'),
      connectTimeoutMs: 5_000,
      reconnectMaxWaitMs: 500,
    });
  return {
    kind: 'redis',
    connect,
    connectPeer: (_first, name) => connect(name),
    detectsNoResponders: true,
    server: redisObserver(url),
  };
}

/**
 * Kafka with the default subject mapping. All connections share the group prefix, as the
 * instances of one deployment do (KAFKA_CONSUMER_GROUP), so their queue groups are one group.
 */
export function kafkaBackend(
  brokers = (): string => serviceUrl('kafka'),
  options: { readonly resumeTimeoutMs?: number } = {},
): BackendUnderTest {
  const groupPrefix = uniqueName('test-deployment');
  const connect = (name?: string) => {
    const clientId = name ?? uniqueName('kafka');
    return createKafkaBroker({
      brokers: [brokers()],
      clientId,
      kafka: loadConfig({}).broker.kafka,
      groupPrefix,
      connectTimeoutMs: 30_000,
      reconnectMaxWaitMs: 500,
      ...options,
    });
  };
  return {
    kind: 'kafka',
    connect,
    connectPeer: (_first, name) => connect(name),
    detectsNoResponders: false,
  };
}

interface Connz {
  readonly connections?: ReadonlyArray<{ readonly name?: string; readonly subscriptions_list?: string[] }>;
}

/** Reads the shared NATS server's HTTP monitor (its port is in the service dir). */
function natsMonitor(): ServerObserver {
  const connz = async () => {
    const dir = inject('serviceDirs').nats;
    if (dir === undefined) throw new Error('the NATS test server was not started');
    const port = (await readFile(join(dir, 'monitor_port'), 'utf8')).trim();
    const response = await fetch(`http://127.0.0.1:${port}/connz?subs=1&limit=4096`);
    return ((await response.json()) as Connz).connections ?? [];
  };
  return {
    connections: async (name) => (await connz()).filter((connection) => connection.name === name).length,
    subscribersOf: async (subject) =>
      (await connz())
        .flatMap((connection) => connection.subscriptions_list ?? [])
        .filter((sub) => sub === subject).length,
  };
}

/** Asks the Redis server itself, over a connection of the test's own. */
function redisObserver(url: () => string): ServerObserver {
  const ask = async <T>(question: (redis: Redis) => Promise<T>): Promise<T> => {
    const redis = new Redis(url(), { lazyConnect: true });
    await redis.connect();
    try {
      return await question(redis);
    } finally {
      redis.disconnect();
    }
  };
  return {
    connections: (name) =>
      ask(async (redis) => {
        const list = String(await redis.client('LIST'));
        return list
          .split('\n')
          .filter((line) => line.includes(` name=${name} `) || line.includes(` name=${name}-sub `)).length;
      }),
    subscribersOf: (subject) =>
      ask(async (redis) => {
        const [, count] = (await redis.pubsub('NUMSUB', subject)) as [string, number];
        return Number(count);
      }),
  };
}

/** A subject prefix no other test uses: `t<hex>`. */
export function uniqueSubject(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Iterates a subscription in the background into a queue the test can wait on. */
export interface Collected {
  readonly messages: AsyncQueue<BrokerMessage>;
  /** Resolves when the iteration ended (with the error, if it failed). */
  readonly ended: Promise<Error | undefined>;
}

export function collect(subscription: Subscription): Collected {
  const messages = new AsyncQueue<BrokerMessage>();
  const ended = (async () => {
    try {
      for await (const message of subscription) messages.push(message);
      return undefined;
    } catch (error) {
      return error as Error;
    }
  })();
  return { messages, ended };
}

/** A subscription, collected, once the broker has it. */
export async function subscribed(subscription: Subscription): Promise<Collected> {
  const collected = collect(subscription);
  await subscription.ready;
  return collected;
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const textOf = (message: BrokerMessage): string => new TextDecoder().decode(message.payload);

/** A private broker server for one describe block, and brokers connected to it. */
export interface PrivateBrokerServer {
  /** The server (set once `beforeAll` ran): restart, kill, down and up it at will. */
  readonly server: PrivateService;
  /** A new broker on the server; closed after each test. */
  connect(): Promise<Broker>;
}

/**
 * Registers the hooks of a fault suite: a private server of `service` started before the block
 * and stopped after it, brokers closed after each test. The shared servers serve other files,
 * so a test that restarts or kills a server needs its own.
 */
export function usePrivateBrokerServer(
  service: ServiceName,
  backendFor: (url: () => string) => BackendUnderTest,
): PrivateBrokerServer {
  let server: PrivateService | undefined;
  let backend: BackendUnderTest | undefined;
  const opened: Broker[] = [];
  beforeAll(async () => {
    server = await startService(service);
    const started = server;
    backend = backendFor(() => started.url);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((broker) => broker.close()));
  });
  afterAll(() => server?.stop());
  return {
    get server() {
      if (!server) throw new Error(`the private ${service} server is not started yet`);
      return server;
    },
    async connect() {
      if (!backend) throw new Error(`the private ${service} server is not started yet`);
      const broker = await backend.connect();
      opened.push(broker);
      return broker;
    },
  };
}
