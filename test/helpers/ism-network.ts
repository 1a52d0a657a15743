import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { SyncStoreStats } from '../../src/domain/states/sync-store-consumer.ts';
import type { Broker } from '../../src/pubsub/broker.ts';
import { AsyncQueue } from './async-queue.ts';
import type { WsResult } from './graphql-ws-client.ts';

/**
 * The ISM network as a processor sees it: publishes raw bytes on a subject and watches
 * subjects. Over NATS it is a plain NATS client, not streamgate's Broker, exactly like an
 * existing processor; over the memory broker it is the app's own broker.
 */
export interface IsmNetwork {
  publish(subject: string, payload: string | Uint8Array): Promise<void>;
  /** `ready` resolves once the server knows the subscription. */
  observe(
    subject: string,
    options?: { queue?: string },
  ): { messages: AsyncQueue<string>; ready: Promise<void>; stop(): void };
  close(): Promise<void>;
}

/** A plain NATS client on the given server. */
export async function natsNetwork(url: string): Promise<IsmNetwork> {
  const nc: NatsConnection = await connect({ servers: url });
  return {
    async publish(subject, payload) {
      nc.publish(subject, payload);
      await nc.flush();
    },
    observe(subject, options) {
      const messages = new AsyncQueue<string>();
      const subscription = nc.subscribe(subject, options?.queue ? { queue: options.queue } : {});
      void (async () => {
        for await (const message of subscription) messages.push(message.string());
      })();
      return { messages, ready: nc.flush(), stop: () => subscription.unsubscribe() };
    },
    close: () => nc.drain(),
  };
}

/** The embedded broker of an app, for the memory variant. */
export function brokerNetwork(broker: Broker): IsmNetwork {
  return {
    async publish(subject, payload) {
      await broker.publish(subject, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
    },
    observe(subject, options) {
      const messages = new AsyncQueue<string>();
      const subscription = broker.subscribe(subject, options?.queue ? { queue: options.queue } : {});
      void (async () => {
        for await (const message of subscription)
          messages.push(Buffer.from(message.payload).toString('utf8'));
      })();
      return { messages, ready: Promise.resolve(), stop: () => subscription.unsubscribe() };
    },
    close: async () => undefined,
  };
}

/** One stream a test waits on, reduced to what priming needs. */
export interface PrimedStream {
  pending(): number;
  /** The text of the next frame or event. */
  nextRaw(): Promise<string | undefined>;
}

/** A queue of raw text frames (a legacy socket). */
export function textStream(queue: AsyncQueue<string>): PrimedStream {
  return { pending: () => queue.pending.length, nextRaw: () => queue.next(5_000, 'the marker') };
}

/** A graphql-ws stateStream subscription that selects `raw`. */
export function eventStream(queue: AsyncQueue<WsResult>): PrimedStream {
  return {
    pending: () => queue.pending.length,
    nextRaw: async () =>
      ((await queue.next(5_000, 'the marker')).data?.stateStream as { raw?: string } | undefined)?.raw,
  };
}

/**
 * Resolves once every stream receives what is published now: publishes probes until each has
 * one, then one marker, and drops everything up to the marker, so a test starts from clean queues.
 */
export async function primeStreams(
  streams: readonly PrimedStream[],
  publish: (text: string) => Promise<unknown>,
): Promise<void> {
  // Generous: subscriptions start asynchronously, and a busy 2-core machine can take seconds.
  const deadline = Date.now() + 30_000;
  while (streams.some((stream) => stream.pending() === 0)) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the streams to be live');
    await publish('probe');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const marker = `marker-${Math.random()}`;
  await publish(marker);
  for (const stream of streams) {
    while ((await stream.nextRaw()) !== marker) {
      // dropping the probes
    }
  }
}

/** Sync-store messages finished (persisted, ignored, rejected or failed), unlike `received`. */
export function syncMessagesHandled(stats: SyncStoreStats): number {
  const rejected = Object.values(stats.rejected).reduce((sum, count) => sum + (count ?? 0), 0);
  return stats.persisted + stats.ignored + stats.failed + rejected;
}
